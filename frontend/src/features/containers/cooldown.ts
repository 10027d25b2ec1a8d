import { isApiError } from '@/api/errors';
import { createStore } from '@/lib/store';

export interface Cooldown {
  until: number | null;
  reason: 'rate_limited' | 'capacity_full' | null;
  /** the policy that refused (a 429's details.policy), when the server named one */
  policy: string | null;
}

/** After a 429 or 503 on create (or on the puzzle), the Create button waits until the server said to retry. */
export const cooldownStore = createStore<Cooldown>({ until: null, reason: null, policy: null });

export function noteCreateError(e: unknown): void {
  if (!isApiError(e) || e.retryAt == null) return;
  if (e.code === 'rate_limited' || e.code === 'capacity_full' || e.status === 429 || e.status === 503) {
    const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {};
    cooldownStore.set({
      until: e.retryAt,
      reason: e.code === 'capacity_full' || e.status === 503 ? 'capacity_full' : 'rate_limited',
      policy: typeof details.policy === 'string' ? details.policy : null,
    });
  }
}
