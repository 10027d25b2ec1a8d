import { CloudOff, Hourglass, WifiOff } from 'lucide-react';
import { useStore } from '@/lib/store';
import { networkStore } from '@/stores/network';

/** Offline / unreachable / slow: one quiet line under the header, never a modal. */
export function NetworkBanner() {
  const { online, unreachable, slowRequests } = useStore(networkStore);
  let icon = null;
  let text = '';
  let cls = '';
  if (!online) {
    icon = <WifiOff className="h-4 w-4 shrink-0" aria-hidden />;
    text = "You're offline. What you see is the last known state; updates resume when you're back.";
    cls = 'bg-amber-100 text-amber-950 dark:bg-amber-950/70 dark:text-amber-100';
  } else if (unreachable) {
    icon = <CloudOff className="h-4 w-4 shrink-0" aria-hidden />;
    text = "Can't reach Sprout right now. Retrying in the background…";
    cls = 'bg-amber-100 text-amber-950 dark:bg-amber-950/70 dark:text-amber-100';
  } else if (slowRequests > 0) {
    icon = <Hourglass className="h-4 w-4 shrink-0 motion-safe:animate-pulse" aria-hidden />;
    text = 'Sprout is taking longer than usual to answer…';
    cls = 'bg-sky-100 text-sky-950 dark:bg-sky-950/70 dark:text-sky-100';
  }
  return (
    <div role="status" aria-live="polite" className="min-h-0">
      {text ? (
        <div className={`motion-safe:animate-fade-in ${cls}`}>
          <p className="mx-auto flex max-w-6xl items-center gap-2 px-4 py-2 text-sm font-medium sm:px-6">
            {icon}
            {text}
          </p>
        </div>
      ) : null}
    </div>
  );
}
