// One notification as the stack draws it; loaded on its own (see toaster.tsx).
import { CircleAlert, CircleCheck, Info, TriangleAlert, X } from 'lucide-react';
import { useEffect } from 'react';
import { useNowMs } from '@/hooks/use-now';
import { cn } from '@/lib/cn';
import { formatClock, formatTimeOfDay } from '@/lib/time';
import { dismiss, type Notification } from '@/stores/notifications';

const tones = {
  error: {
    icon: CircleAlert,
    box: 'border-red-200 bg-white dark:border-red-900/60 dark:bg-slate-900',
    iconCls: 'text-red-600 dark:text-red-400',
    bar: 'bg-red-600 dark:bg-red-400',
  },
  warning: {
    icon: TriangleAlert,
    box: 'border-amber-200 bg-white dark:border-amber-900/60 dark:bg-slate-900',
    iconCls: 'text-amber-600 dark:text-amber-400',
    bar: 'bg-amber-500 dark:bg-amber-400',
  },
  info: {
    icon: Info,
    box: 'border-sky-200 bg-white dark:border-sky-900/60 dark:bg-slate-900',
    iconCls: 'text-sky-600 dark:text-sky-400',
    bar: 'bg-sky-600 dark:bg-sky-400',
  },
  success: {
    icon: CircleCheck,
    box: 'border-emerald-200 bg-white dark:border-emerald-900/60 dark:bg-slate-900',
    iconCls: 'text-emerald-600 dark:text-emerald-400',
    bar: 'bg-emerald-600 dark:bg-emerald-400',
  },
} as const;

function Toast({ n }: { n: Notification }) {
  const now = useNowMs();
  const tone = tones[n.tone];
  const Icon = tone.icon;
  useEffect(() => {
    if (!n.timeout) return;
    const t = setTimeout(() => dismiss(n.id), n.timeout);
    return () => clearTimeout(t);
  }, [n.id, n.timeout]);
  const remaining = n.retryAt ? Math.ceil((n.retryAt - now) / 1000) : 0;
  return (
    <div
      role={n.tone === 'error' ? 'alert' : 'status'}
      data-testid="toast"
      className={cn(
        'pointer-events-auto relative flex w-full gap-3 overflow-hidden rounded-2xl border p-4 pr-10 shadow-lg shadow-slate-900/10 motion-safe:animate-toast-in dark:shadow-black/40',
        tone.box,
      )}
    >
      <span className={cn('absolute inset-y-0 left-0 w-1', tone.bar)} aria-hidden />
      <Icon className={cn('mt-0.5 h-5 w-5 shrink-0', tone.iconCls)} aria-hidden />
      <div className="min-w-0 text-sm">
        <p className="font-semibold text-slate-900 dark:text-white">{n.title}</p>
        <p className="mt-0.5 text-slate-700 dark:text-slate-300">{n.message}</p>
        {remaining > 0 ? (
          <>
            {/* The stack is a live region: a clock ticking in it would be read out every second. */}
            <p
              aria-hidden
              className="mt-2 inline-flex items-center gap-1.5 rounded-md bg-slate-100 px-2 py-0.5 font-mono text-xs font-medium text-slate-800 dark:bg-slate-800 dark:text-slate-200"
            >
              Retry in {formatClock(remaining)}
            </p>
            <span className="sr-only">You can retry at {formatTimeOfDay(n.retryAt!)}.</span>
          </>
        ) : null}
      </div>
      <button
        type="button"
        onClick={() => dismiss(n.id)}
        aria-label="Dismiss notification"
        className="absolute right-2 top-2 rounded-lg p-1.5 text-slate-500 hover:bg-slate-100 hover:text-slate-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-600 dark:text-slate-400 dark:hover:bg-slate-800 dark:hover:text-white"
      >
        <X className="h-4 w-4" aria-hidden />
      </button>
    </div>
  );
}

/** The stack's toasts, newest last. */
export function Toasts({ items }: { items: Notification[] }) {
  return items.map((n) => <Toast key={n.id} n={n} />);
}
