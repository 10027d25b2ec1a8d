import { useCallback, useEffect, useRef } from 'react';
import { useStore } from '@/lib/store';
import { getRateLimit } from '../api/rate-limit';
import { applyPolicies, installQuotaObserver, quotaStore, summarize } from '../store';

let refreshing: Promise<void> | null = null;

/** Fetch the full quota picture; concurrent callers share one request. */
export function refreshQuota(): Promise<void> {
  if (!refreshing) {
    refreshing = getRateLimit()
      .then((r) => applyPolicies(r.policies))
      .catch(() => undefined)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

export function useQuota() {
  const state = useStore(quotaStore);
  const timer = useRef<ReturnType<typeof setTimeout>>();

  useEffect(() => {
    installQuotaObserver();
    void refreshQuota();
  }, []);

  // When the earliest window resets, ask again for the fresh numbers.
  useEffect(() => {
    const resets = Object.values(state.policies)
      .map((p) => p.resetAt)
      .filter((t): t is number => t != null && t > Date.now());
    if (!resets.length) return;
    const wait = Math.min(...resets) - Date.now() + 500;
    timer.current = setTimeout(() => void refreshQuota(), Math.min(wait, 2 ** 31 - 1));
    return () => clearTimeout(timer.current);
  }, [state.policies]);

  const refresh = useCallback(() => refreshQuota(), []);
  return { loaded: state.loaded, ...summarize(state.policies), refresh };
}
