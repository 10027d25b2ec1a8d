import { queryOptions, useQuery, type QueryClient } from '@tanstack/react-query';
import { addResponseObserver, request } from '@/api/client';
import type { RateLimitResponse } from '@/api/types';
import { summarize, untilNextReset, withHeaders, withPolicies, type Policies } from '../policies';

export const rateLimitKey = ['rate-limit'] as const;

export async function getRateLimit(signal?: AbortSignal): Promise<RateLimitResponse> {
  const res = await request<RateLimitResponse>('/rate-limit', { signal, notify: 'rate-limit' });
  return res.data ?? { policies: [], others: [] };
}

const observed = new WeakSet<QueryClient>();

/** Route the RateLimit headers of every API response into the quota. Once per client. */
export function observeRateLimitHeaders(client: QueryClient): () => void {
  if (observed.has(client)) return () => undefined;
  observed.add(client);
  const stop = addResponseObserver(({ headers }) => {
    const known = client.getQueryData<Policies>(rateLimitKey);
    // Before GET /rate-limit has answered, headers alone would make a partial picture look whole.
    if (!known) return;
    const next = withHeaders(known, headers);
    if (next) client.setQueryData(rateLimitKey, next);
  });
  return () => {
    observed.delete(client);
    stop();
  };
}

/** The caller's quotas: asked at start, on focus, after each create or delete, and when a window resets. */
export const rateLimitQuery = queryOptions({
  queryKey: rateLimitKey,
  queryFn: async ({ client, signal }): Promise<Policies> =>
    withPolicies(client.getQueryData<Policies>(rateLimitKey) ?? {}, (await getRateLimit(signal)).policies),
  // Half a second after the earliest reset, so the server has moved on too.
  refetchInterval: (q) => {
    const wait = q.state.data ? untilNextReset(q.state.data) : null;
    return wait == null ? false : Math.min(wait + 500, 2 ** 31 - 1);
  },
  // Not asked again on mount right after the first answer; asked again on focus after that.
  staleTime: 5000,
  retry: 2,
});

export function useQuota() {
  const query = useQuery(rateLimitQuery);
  return { loaded: query.isSuccess, ...summarize(query.data ?? {}) };
}
