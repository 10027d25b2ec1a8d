import { Boxes, RotateCcw, Sparkles } from 'lucide-react';
import { useNowMs } from '@/hooks/use-now';
import { cn } from '@/lib/cn';
import { formatClock } from '@/lib/time';
import { useQuota } from '../api/rate-limit';
import { resetIn } from '../policies';

function Meter({ used, limit }: { used: number; limit: number }) {
  return (
    <span className="hidden gap-0.5 sm:flex" aria-hidden>
      {Array.from({ length: Math.min(limit, 10) }, (_, i) => (
        <span
          key={i}
          className={cn(
            'h-2.5 w-1.5 rounded-sm transition-colors motion-reduce:transition-none',
            i < limit - used ? 'bg-emerald-600 dark:bg-emerald-400' : 'bg-slate-300 dark:bg-slate-700',
          )}
        />
      ))}
    </span>
  );
}

function Chip({ children, label, className }: { children: React.ReactNode; label: string; className?: string }) {
  return (
    <li
      aria-label={label}
      className={cn(className, 'flex h-8 items-center gap-1.5 rounded-full border border-slate-200 bg-white/80 px-2.5 text-xs sm:h-9 sm:gap-2 sm:px-3 sm:text-sm text-slate-700 shadow-sm dark:border-slate-800 dark:bg-slate-900/80 dark:text-slate-300')}
    >
      {children}
    </li>
  );
}

/** "3 of 5 creates left · resets in 19:58 · 1 of 3 live": the caller's quota at a glance. */
export function QuotaBar() {
  const { loaded, creates, live } = useQuota();
  const now = useNowMs();
  if (!loaded && !creates && !live) {
    return (
      <ul className="flex flex-wrap gap-2" aria-label="Your quota (loading)">
        <li className="h-8 w-36 rounded-full sm:h-9 bg-slate-200/70 dark:bg-slate-800" aria-hidden />
        <li className="h-8 w-24 rounded-full sm:h-9 bg-slate-200/70 dark:bg-slate-800" aria-hidden />
      </ul>
    );
  }
  const reset = resetIn(creates, now);
  const createsUsed = creates?.limit != null && creates.remaining != null ? creates.limit - creates.remaining : null;
  const liveUsed = live?.limit != null && live.remaining != null ? live.limit - live.remaining : null;
  return (
    <ul className="flex flex-wrap items-center gap-2" aria-label="Your quota">
      {creates?.limit != null && creates.remaining != null ? (
        <Chip label={`${creates.remaining} of ${creates.limit} creates left this hour`}>
          <Sparkles className="h-4 w-4 text-emerald-700 dark:text-emerald-400" aria-hidden />
          <span>
            <strong className="font-semibold text-slate-900 dark:text-white">{creates.remaining}</strong>
            <span className="text-slate-500 dark:text-slate-400">/{creates.limit}</span> creates left
          </span>
          {reset != null && createsUsed ? (
            <span className="font-mono tabular-nums text-slate-600 sm:hidden dark:text-slate-400">· resets {formatClock(reset)}</span>
          ) : null}
          <Meter used={createsUsed ?? 0} limit={creates.limit} />
        </Chip>
      ) : null}
      {live?.limit != null && liveUsed != null ? (
        <Chip label={`${liveUsed} of ${live.limit} live containers`}>
          <Boxes className="h-4 w-4 text-sky-700 dark:text-sky-400" aria-hidden />
          <span>
            <strong className="font-semibold text-slate-900 dark:text-white">{liveUsed}</strong>
            <span className="text-slate-500 dark:text-slate-400">/{live.limit}</span> live
          </span>
        </Chip>
      ) : null}
      {reset != null && createsUsed ? (
        <Chip label={`Create quota resets in ${formatClock(reset)}`} className="hidden sm:flex">
          <RotateCcw className="h-4 w-4 text-slate-500 dark:text-slate-400" aria-hidden />
          <span>
            resets in{' '}
            <span className="font-mono tabular-nums text-slate-900 dark:text-white">{formatClock(reset)}</span>
          </span>
        </Chip>
      ) : null}
    </ul>
  );
}
