import { useSyncExternalStore } from 'react';
import { clockStore } from '@/lib/clock';

/**
 * One shared 1 s ticker for every countdown on the page (not one interval per card).
 * Returns "now" on the server's clock, in epoch seconds.
 */
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;
let now = Date.now();

function subscribe(listener: () => void) {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      listeners.forEach((l) => l());
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (!listeners.size && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

export function useServerNow(): number {
  const t = useSyncExternalStore(subscribe, () => now, () => now);
  const offset = useSyncExternalStore(clockStore.subscribe, () => clockStore.get().offsetMs, () => 0);
  return (t + offset) / 1000;
}

/** Visitor-clock now in ms, ticking each second. */
export function useNowMs(): number {
  return useSyncExternalStore(subscribe, () => now, () => now);
}
