import { createStore } from '@/lib/store';

/** Connection health as the page sees it: browser online flag, slow requests in flight, server reachable. */
export interface NetworkState {
  online: boolean;
  slowRequests: number;
  /** The last request failed to reach the server at all (network error or timeout). */
  unreachable: boolean;
}

export const networkStore = createStore<NetworkState>({
  online: typeof navigator === 'undefined' ? true : navigator.onLine !== false,
  slowRequests: 0,
  unreachable: false,
});

export function setOnline(online: boolean): void {
  networkStore.set((s) => (s.online === online ? s : { ...s, online }));
}

export function setUnreachable(unreachable: boolean): void {
  networkStore.set((s) => (s.unreachable === unreachable ? s : { ...s, unreachable }));
}

export function slowRequestStarted(): void {
  networkStore.set((s) => ({ ...s, slowRequests: s.slowRequests + 1 }));
}

export function slowRequestEnded(): void {
  networkStore.set((s) => ({ ...s, slowRequests: Math.max(0, s.slowRequests - 1) }));
}
