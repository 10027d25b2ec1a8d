import { useEffect, useState } from 'react';
import { useStore } from '@/lib/store';
import { notificationStore, type Notification } from '@/stores/notifications';

// The toasts are drawn by a chunk of their own (icons, countdown, dismiss button): a first visit
// shows none, so the first load does not carry them. The page asks for it once its first
// screen is in (first-screen.ts). Until it is in, or if it cannot load (offline), a toast is
// plain text: what it says always reaches the visitor.
type ToastsModule = typeof import('./toast');
let toasts: ToastsModule | null = null;
export const loadToasts = () => import('./toast').then((m) => (toasts = m));

function PlainToast({ n }: { n: Notification }) {
  return (
    <div
      role={n.tone === 'error' ? 'alert' : 'status'}
      data-testid="toast"
      className="pointer-events-auto w-full rounded-2xl border border-slate-200 bg-white p-4 text-sm shadow-lg dark:border-slate-700 dark:bg-slate-900"
    >
      <p className="font-semibold text-slate-900 dark:text-white">{n.title}</p>
      <p className="mt-0.5 text-slate-700 dark:text-slate-300">{n.message}</p>
    </div>
  );
}

/** Renders the one notification stack, bottom (phones) or bottom right (larger screens), clear of the header. */
export function Toaster() {
  const items = useStore(notificationStore);
  const [loaded, setLoaded] = useState(toasts);
  useEffect(() => {
    if (items.length > 0 && !loaded) void loadToasts().then(setLoaded, () => undefined);
  }, [items.length, loaded]);
  return (
    <div
      aria-live="polite"
      // Phone: at the top, clear of the sticky Create bar. Wider: bottom right; on a desktop,
      // bottom left, under the create column, clear of the cards and their badges.
      className="pointer-events-none fixed inset-x-0 top-0 z-50 flex flex-col gap-2 p-3 pt-[max(0.75rem,env(safe-area-inset-top))] sm:inset-x-auto sm:bottom-0 sm:right-0 sm:top-auto sm:w-[24rem] sm:p-5 lg:left-0 lg:right-auto"
    >
      {loaded ? <loaded.Toasts items={items} /> : items.map((n) => <PlainToast key={n.id} n={n} />)}
    </div>
  );
}
