import { useCallback, useEffect, useRef, useState } from 'react';
import type { Container } from '@/api/types';
import { dismiss, notifyError } from '@/components/notifications/store';
import { networkStore } from '@/components/network/store';
import { config } from '@/config/env';
import { isPageHidden } from '@/hooks/use-page-activity';
import { listContainers } from '../api/containers';
import { createPoller, type Poller } from '../lib/poller';

const POLL_KEY = 'containers-poll';

export interface ContainersState {
  containers: Container[] | null;
  /** Put a record the server just returned (create/delete) in place, then re-poll. */
  upsert(c: Container): void;
  refresh(): void;
}

/** The caller's containers, kept fresh by the ETag poller. */
export function useContainers(fetchList = listContainers): ContainersState {
  const [containers, setContainers] = useState<Container[] | null>(null);
  const poller = useRef<Poller | null>(null);

  useEffect(() => {
    const p = createPoller({
      fetchList: (etag, signal) => fetchList(etag, { signal, notify: false }),
      onData: setContainers,
      onError: (e, n) => {
        // One failed poll is noise; report from the second, under one key so it never stacks.
        if (n >= 2) notifyError(e, POLL_KEY);
      },
      onRecovered: () => dismiss(POLL_KEY),
      fastMs: config.pollFastMs,
      slowMs: config.pollSlowMs,
      isPaused: () => isPageHidden() || !networkStore.get().online,
    });
    poller.current = p;
    p.start();
    const wake = () => {
      if (!isPageHidden() && networkStore.get().online) p.resume();
    };
    document.addEventListener('visibilitychange', wake);
    const unsub = networkStore.subscribe(wake);
    return () => {
      p.stop();
      document.removeEventListener('visibilitychange', wake);
      unsub();
    };
  }, [fetchList]);

  const upsert = useCallback((c: Container) => {
    setContainers((list) => {
      const rest = (list ?? []).filter((x) => x.id !== c.id);
      return [c, ...rest];
    });
    poller.current?.refresh({ forgetEtag: true });
  }, []);

  const refresh = useCallback(() => poller.current?.refresh(), []);

  return { containers, upsert, refresh };
}
