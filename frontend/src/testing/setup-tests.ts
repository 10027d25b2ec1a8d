import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach } from 'vitest';
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

beforeEach(() => {
  localStorage.clear();
  notificationStore.set([]);
  networkStore.set({ online: true, slowRequests: 0, unreachable: false });
  cooldownStore.set({ until: null, reason: null, policy: null });
});

afterEach(() => {
  cleanup();
});
