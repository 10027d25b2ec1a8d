import { queryOptions, useQuery, type QueryClient } from '@tanstack/react-query';
import { addResponseObserver, request } from '@/api/client';
import type { RateLimitResponse } from '@/api/types';
import { summarize, untilNextReset, withHeaders, withPolicies, type QuotaState } from '../policies';

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
    const known = client.getQueryData<QuotaState>(rateLimitKey);
    // Before GET /rate-limit has answered, headers alone would make a partial picture look whole.
    if (!known) return;
    const next = withHeaders(known.policies, headers);
    if (next) client.setQueryData<QuotaState>(rateLimitKey, { ...known, policies: next });
  });
  return () => {
    observed.delete(client);
    stop();
  };
}

/**
 * The caller's quotas and the others' containers that count against them: asked at start, when
 * the tab comes back (focus or visibility, however fresh), before the puzzle opens, after each
 * create or delete, and when a window resets.
 */
export const rateLimitQuery = queryOptions({
  queryKey: rateLimitKey,
  queryFn: async ({ client, signal }): Promise<QuotaState> => {
    const answer = await getRateLimit(signal);
    const known = client.getQueryData<QuotaState>(rateLimitKey)?.policies ?? {};
    return { policies: withPolicies(known, answer.policies), others: Array.isArray(answer.others) ? answer.others : [] };
  },
  // Half a second after the earliest reset, so the server has moved on too.
  refetchInterval: (q) => {
    const wait = q.state.data ? untilNextReset(q.state.data.policies) : null;
    return wait == null ? false : Math.min(wait + 500, 2 ** 31 - 1);
  },
  // Not asked again on mount right after the first answer; always asked again when the tab
  // comes back, where a limit may have closed (another tab, another browser) or opened.
  staleTime: 5000,
  refetchOnWindowFocus: 'always',
  retry: 2,
});

/** Ask again now, whatever the cache holds: the page is about to act on the answer. */
export function recheckQuota(client: QueryClient): Promise<QuotaState> {
  return client.fetchQuery({ ...rateLimitQuery, staleTime: 0 });
}

export function useQuota() {
  const query = useQuery(rateLimitQuery);
  const data = query.data ?? { policies: {}, others: [] };
  return { loaded: query.isSuccess, policies: data.policies, others: data.others, ...summarize(data.policies) };
}
