import { createStore } from './store';

/**
 * Server clock offset. Container times are server epoch seconds; a visitor's clock may be off
 * by minutes, which would make countdowns lie. We estimate the offset from the `Date` header
 * (1 s resolution) and only apply it when it is clearly larger than that resolution.
 */
export const clockStore = createStore({ offsetMs: 0 });

export function observeServerDate(dateHeader: string | null, receivedAtMs = Date.now()): void {
  if (!dateHeader) return;
  const server = Date.parse(dateHeader);
  if (Number.isNaN(server)) return;
  // The header is truncated to the second: the true server time is in [server, server + 1000).
  const offset = server + 500 - receivedAtMs;
  clockStore.set((prev) => (Math.abs(offset) > 2000 ? (Math.abs(prev.offsetMs - offset) > 1000 ? { offsetMs: offset } : prev) : prev.offsetMs === 0 ? prev : { offsetMs: 0 }));
}

/** Now on the server's clock, in epoch seconds. */
export function serverNowSeconds(): number {
  return (Date.now() + clockStore.get().offsetMs) / 1000;
}
