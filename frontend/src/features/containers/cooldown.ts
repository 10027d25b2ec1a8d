import { isApiError } from '@/api/errors';
import { createStore } from '@/lib/store';

/** After a 429 or 503 on create, the Create button waits until the server said to retry. */
export const cooldownStore = createStore<{ until: number | null; reason: 'rate_limited' | 'capacity_full' | null }>({
  until: null,
  reason: null,
});

export function noteCreateError(e: unknown): void {
  if (!isApiError(e) || e.retryAt == null) return;
  if (e.code === 'rate_limited' || e.code === 'capacity_full' || e.status === 429 || e.status === 503) {
    cooldownStore.set({ until: e.retryAt, reason: e.code === 'capacity_full' || e.status === 503 ? 'capacity_full' : 'rate_limited' });
  }
}
