import { addResponseObserver } from '@/api/client';
import { parseRateLimit, parseRateLimitPolicy } from '@/api/rate-limit-headers';
import type { RateLimitPolicy } from '@/api/types';
import { createStore } from '@/lib/store';

export interface PolicyState {
  name: string;
  limit?: number;
  remaining?: number;
  /** epoch ms (visitor clock) when the window resets */
  resetAt?: number;
  window?: number;
  scope?: RateLimitPolicy['scope'];
  description?: string;
}

export type QuotaState = { loaded: boolean; policies: Record<string, PolicyState> };

export const quotaStore = createStore<QuotaState>({ loaded: false, policies: {} });

export function applyPolicies(policies: RateLimitPolicy[], now = Date.now()): void {
  quotaStore.set((s) => {
    const next = { ...s.policies };
    for (const p of policies) {
      next[p.name] = {
        name: p.name,
        limit: p.limit,
        remaining: p.remaining,
        resetAt: now + p.reset * 1000,
        window: p.window,
        scope: p.scope,
        description: p.description,
      };
    }
    return { loaded: true, policies: next };
  });
}

/** Merge what `RateLimit-Policy` / `RateLimit` headers of any response say. */
export function applyHeaders(headers: Headers, now = Date.now()): void {
  const defs = parseRateLimitPolicy(headers.get('RateLimit-Policy'));
  const limits = parseRateLimit(headers.get('RateLimit'));
  if (!defs.length && !limits.length) return;
  quotaStore.set((s) => {
    const next = { ...s.policies };
    for (const d of defs) {
      const prev = next[d.name] ?? { name: d.name };
      next[d.name] = { ...prev, limit: d.quota ?? prev.limit, window: d.window ?? prev.window };
    }
    for (const l of limits) {
      const prev = next[l.name] ?? { name: l.name };
      next[l.name] = {
        ...prev,
        remaining: l.remaining ?? prev.remaining,
        resetAt: l.reset != null ? now + l.reset * 1000 : prev.resetAt,
      };
    }
    return { ...s, policies: next };
  });
}

let installed = false;
/** Route RateLimit headers of every API response into the quota store. Idempotent. */
export function installQuotaObserver(): void {
  if (installed) return;
  installed = true;
  addResponseObserver(({ headers }) => applyHeaders(headers));
}

export interface QuotaSummary {
  creates?: PolicyState;
  /** the tighter of the per-address and per-owner live limits */
  live?: PolicyState;
}

export function summarize(policies: Record<string, PolicyState>): QuotaSummary {
  const live = [policies.live_per_owner, policies.live_per_address]
    .filter((p): p is PolicyState => !!p && p.limit != null && p.remaining != null)
    .sort((a, b) => a.remaining! - b.remaining! || a.limit! - b.limit!)[0];
  return { creates: policies.creates_per_address, live };
}
