import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, beforeAll, beforeEach } from 'vitest';
import { loadToasts } from '@/components/notifications/toaster';
import { notificationStore } from '@/stores/notifications';
import { networkStore } from '@/stores/network';
import { cooldownStore } from '@/features/containers/cooldown';

// jsdom has no PointerEvent; Testing Library falls back to a plain Event and loses clientX.
if (typeof window !== 'undefined' && !('PointerEvent' in window)) {
  class PointerEventPolyfill extends MouseEvent {
    pointerId: number;
    pointerType: string;
    isPrimary: boolean;
    constructor(type: string, init: PointerEventInit = {}) {
      super(type, init);
      this.pointerId = init.pointerId ?? 1;
      this.pointerType = init.pointerType ?? 'mouse';
      this.isPrimary = init.isPrimary ?? true;
    }
  }
  (window as unknown as { PointerEvent: unknown }).PointerEvent = PointerEventPolyfill;
  (globalThis as unknown as { PointerEvent: unknown }).PointerEvent = PointerEventPolyfill;
}

// The toasts' chunk is in before any test, as on a page past its first screen (the plain
// fallback has its own test).
beforeAll(async () => {
  await loadToasts();
});

beforeEach(() => {
  localStorage.clear();
  notificationStore.set([]);
  networkStore.set({ online: true, slowRequests: 0, unreachable: false });
  cooldownStore.set({ until: null, reason: null, policy: null });
});

afterEach(() => {
  cleanup();
});
