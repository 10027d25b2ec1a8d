import { request } from '@/api/client';
import type { RateLimitResponse } from '@/api/types';

export async function getRateLimit(signal?: AbortSignal): Promise<RateLimitResponse> {
  const res = await request<RateLimitResponse>('/rate-limit', { signal, notify: 'rate-limit' });
  return res.data ?? { policies: [] };
}
