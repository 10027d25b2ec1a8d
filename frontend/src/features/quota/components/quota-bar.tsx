import { Boxes, Clock, RotateCcw, Sparkles } from 'lucide-react';
import { useNowMs } from '@/hooks/use-now';
import { cn } from '@/lib/cn';
import { formatClock, formatTimeOfDay } from '@/lib/time';
import { useQuota } from '../api/rate-limit';
import { opensAt, resetIn, used, type PolicyState } from '../policies';
import { SCOPES } from '../words';

function Meter({ used, limit }: { used: number; limit: number }) {
  return (
    <span className="hidden gap-0.5 md:flex" aria-hidden>
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

function Chip({ children, label, closed, className }: { children: React.ReactNode; label: string; closed?: boolean; className?: string }) {
  return (
    <li
      aria-label={label}
      className={cn(
        className,
        'flex h-8 items-center gap-1.5 whitespace-nowrap rounded-full border px-2.5 text-xs shadow-sm sm:h-9 sm:gap-2 sm:px-3 sm:text-sm',
        closed
          ? 'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-700/70 dark:bg-amber-950/60 dark:text-amber-200'
          : 'border-slate-200 bg-white/80 text-slate-700 dark:border-slate-800 dark:bg-slate-900/80 dark:text-slate-300',
      )}
    >
      {children}
    </li>
  );
}

/** "· address", and when it is closed "· network · opens 22:12": whose count it is, and when it opens again. */
function Tail({ p, now }: { p: PolicyState & { scope?: PolicyState['scope'] }; now: number }) {
  const closed = (p.remaining ?? 1) <= 0;
  const at = opensAt(p, now);
  const scope = SCOPES[p.scope ?? 'address'];
  return (
    <>
      <span className="text-slate-500 dark:text-slate-400">
        <span aria-hidden>· </span>
        <span className="sm:hidden">{scope.short}</span>
        <span className="hidden sm:inline">{scope.heading.toLowerCase()}</span>
      </span>
      {closed && at != null ? (
        <span className="font-medium">
          <span aria-hidden>· </span>
          {`opens ${formatTimeOfDay(at)}`}
        </span>
      ) : null}
    </>
  );
}

/** "3/5 creates · your address", "1/3 live · this browser": the tightest of each kind, named by whose count it is. */
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
  const createsClosed = !!creates && creates.remaining <= 0;
  const liveClosed = !!live && live.remaining <= 0;
  const opens = (p: PolicyState) => {
    const at = opensAt(p, now);
    return at != null ? `, opens ${p.window ? 'at' : 'by'} ${formatTimeOfDay(at)}` : '';
  };
  return (
    <ul className="flex flex-wrap items-center gap-2" aria-label="Your quota">
      {creates ? (
        <Chip closed={createsClosed} label={`${creates.remaining} of ${creates.limit} creates left this hour ${SCOPES[creates.scope ?? 'address'].whose}${createsClosed ? opens(creates) : ''}`}>
          {createsClosed ? (
            <Clock className="h-4 w-4" aria-hidden />
          ) : (
            <Sparkles className="h-4 w-4 text-emerald-700 dark:text-emerald-400" aria-hidden />
          )}
          <span>
            <strong className="font-semibold">{creates.remaining}</strong>
            <span className={createsClosed ? undefined : 'text-slate-500 dark:text-slate-400'}>/{creates.limit}</span> creates<span className="hidden sm:inline"> left</span>
          </span>
          <Tail p={creates} now={now} />
          <Meter used={used(creates)} limit={creates.limit} />
        </Chip>
      ) : null}
      {live ? (
        <Chip closed={liveClosed} label={`${used(live)} of ${live.limit} live ${SCOPES[live.scope ?? 'owner'].whose}${liveClosed ? opens(live) : ''}`}>
          {liveClosed ? <Clock className="h-4 w-4" aria-hidden /> : <Boxes className="h-4 w-4 text-sky-700 dark:text-sky-400" aria-hidden />}
          <span>
            <strong className="font-semibold">{used(live)}</strong>
            <span className={liveClosed ? undefined : 'text-slate-500 dark:text-slate-400'}>/{live.limit}</span> live
          </span>
          <Tail p={live} now={now} />
        </Chip>
      ) : null}
      {reset != null && creates && used(creates) && !createsClosed ? (
        <Chip label={`The next create frees in ${formatClock(reset)}`} className="hidden lg:flex">
          <RotateCcw className="h-4 w-4 text-slate-500 dark:text-slate-400" aria-hidden />
          <span>
            frees in <span className="font-mono tabular-nums text-slate-900 dark:text-white">{formatClock(reset)}</span>
          </span>
        </Chip>
      ) : null}
    </ul>
  );
}
