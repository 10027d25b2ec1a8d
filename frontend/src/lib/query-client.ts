import { focusManager, QueryClient } from '@tanstack/react-query';
import { config } from '@/config/env';

/**
 * After the n-th failure (n from 0) wait 2, 4, 8 … poll intervals, at most 30 s: a struggling
 * server is not hammered, a short outage is over soon after it ends.
 */
export function retryDelay(failures: number): number {
  return Math.min(30_000, config.pollFastMs * 2 ** Math.min(failures + 1, 10));
}

/**
 * The tab "comes back" when it becomes visible (TanStack's own signal) and also when its window
 * regains focus (another window was in front; the tab itself stayed visible): both re-check what
 * the page shows, the quota first of all.
 */
function listenForReturn(): void {
  focusManager.setEventListener((handleFocus) => {
    if (typeof window === 'undefined' || !window.addEventListener) return undefined;
    const listener = () => handleFocus();
    window.addEventListener('visibilitychange', listener, false);
    window.addEventListener('focus', listener, false);
    return () => {
      window.removeEventListener('visibilitychange', listener);
      window.removeEventListener('focus', listener);
    };
  });
}

/**
 * The page's server state. Queries pause while the tab is hidden (no interval refetch in the
 * background) or the browser is offline (network mode "online"), and refetch when the tab is
 * shown or the network is back.
 */
export function createQueryClient(): QueryClient {
  listenForReturn();
  return new QueryClient({
    defaultOptions: {
      queries: { retryDelay, refetchIntervalInBackground: false, networkMode: 'online' },
      // A create or delete is never repeated behind the visitor's back.
      mutations: { retry: false },
    },
  });
}
