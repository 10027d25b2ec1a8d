import { useEffect } from 'react';
import { setOnline } from '@/stores/network';

/** Keeps the network store's `online` flag in step with the browser. Mount once. */
export function useOnlineTracking(): void {
  useEffect(() => {
    const update = () => setOnline(navigator.onLine !== false);
    update();
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
}

export function isPageHidden(): boolean {
  return typeof document !== 'undefined' && document.visibilityState === 'hidden';
}
