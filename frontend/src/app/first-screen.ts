import type { QueryClient } from '@tanstack/react-query';
import { containersQuery, templatesQuery } from '@/features/containers/api/containers';
import { rateLimitQuery } from '@/features/quota/api/rate-limit';
import { loadToasts } from '@/components/notifications/toaster';
import { loadContainerList, loadSideColumn } from './lazy-parts';

/**
 * The first screen needs three answers: templates, the list and the quota. Ask for all three at
 * once; resolve when they are in, so that the page renders them in one pass rather than once per
 * answer, or after `atMostMs` (a slow server), so that the page can say it is waiting. A failed
 * first answer is asked again by the page itself, with its usual retries.
 */
export function prefetchFirstScreen(client: QueryClient, atMostMs: number): Promise<void> {
  const answers = Promise.all([
    client.prefetchQuery(templatesQuery),
    // Cards to show: their code is part of the first pass too.
    client
      .prefetchQuery({ ...containersQuery, retry: false })
      .then(() => (client.getQueryData(containersQuery.queryKey)?.containers.length ? loadContainerList() : undefined)),
    client.prefetchQuery({ ...rateLimitQuery, retry: false }),
    loadSideColumn(),
  ]).then(
    () => undefined,
    () => undefined, // a chunk that failed to load: the page's Suspense asks again
  );
  // Not awaited: no toast is on the first screen, but one may follow soon after.
  void answers.then(loadToasts).catch(() => undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, atMostMs)));
  return Promise.race([answers, late]).finally(() => clearTimeout(timer));
}
