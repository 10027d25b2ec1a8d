import { Box, CircleAlert, ExternalLink, Timer, Trash2, Users } from 'lucide-react';
import { Fragment } from 'react';
import type { Container, PendingPhase } from '@/api/types';
import { Button } from '@/components/ui/button';
import { CopyButton } from '@/components/ui/copy-button';
import { cn } from '@/lib/cn';
import { formatClock, formatDurationWords, formatTimeOfDay } from '@/lib/time';
import { StateBadge } from './state-badge';

const address = (url: string) => url.replace(/^https?:\/\//, '');

const PHASES: { key: PendingPhase; label: string }[] = [
  { key: 'queued', label: 'Queued' },
  { key: 'creating', label: 'Creating' },
  { key: 'starting', label: 'Starting' },
];

function PhaseSteps({ phase }: { phase: PendingPhase | null }) {
  const current = Math.max(0, PHASES.findIndex((p) => p.key === (phase ?? 'queued')));
  return (
    <ol className="flex items-center gap-1.5" aria-label="Progress">
      {PHASES.map((p, i) => {
        const state = i < current ? 'done' : i === current ? 'current' : 'todo';
        return (
          <li key={p.key} className="flex items-center gap-1.5" aria-current={state === 'current' ? 'step' : undefined}>
            {i > 0 ? (
              <span aria-hidden className={cn('h-px w-3 sm:w-5', i <= current ? 'bg-amber-500 dark:bg-amber-400' : 'bg-slate-300 dark:bg-slate-700')} />
            ) : null}
            <span
              className={cn(
                'inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium',
                state === 'current' && 'bg-amber-100 text-amber-900 dark:bg-amber-400/15 dark:text-amber-200',
                state === 'done' && 'text-slate-700 dark:text-slate-300',
                state === 'todo' && 'text-slate-500 dark:text-slate-400',
              )}
            >
              <span
                aria-hidden
                className={cn(
                  'h-1.5 w-1.5 rounded-full',
                  state === 'current' && 'bg-amber-500 motion-safe:animate-pulse-dot dark:bg-amber-400',
                  state === 'done' && 'bg-amber-500 dark:bg-amber-400',
                  state === 'todo' && 'bg-slate-300 dark:bg-slate-600',
                )}
              />
              {p.label}
              {state === 'done' ? <span className="sr-only"> (done)</span> : null}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

const ordinal = (n: number) => {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
};

/**
 * Every slot is taken: its place in the line and about when it starts, both as the server last
 * said (the list is polled every half second while anything is pending). Not a live region: a
 * ticking figure there would be read out at each poll.
 */
function WaitingLine({ c, now }: { c: Container; now: number }) {
  return (
    <div className="rounded-xl bg-amber-50 p-3 text-sm text-amber-950 dark:bg-amber-400/10 dark:text-amber-100">
      <p className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
        <span className="inline-flex items-center gap-1.5 font-semibold">
          <Users className="h-4 w-4 shrink-0 self-center" aria-hidden />
          {c.position != null ? `${ordinal(c.position)} in line` : 'In line'}
        </span>
        <span>
          {c.eta_seconds != null ? (
            <>
              starts in about <span className="font-mono font-medium tabular-nums">{formatClock(c.eta_seconds)}</span>
            </>
          ) : (
            'start time not known yet'
          )}
        </span>
      </p>
      <p className="mt-1 text-xs text-amber-900 dark:text-amber-200">
        Every slot on Sprout is taken. It starts as soon as one frees; keep this page open to hold its place
        {c.expires_at > now ? ` (until ${formatTimeOfDay(c.expires_at * 1000)} at the latest)` : ''}.
      </p>
    </div>
  );
}

function Expiry({ c, now }: { c: Container; now: number }) {
  const left = c.expires_at - now;
  const low = left < 300;
  return (
    <div className="min-w-0 flex-1">
      <p className={cn('flex items-center gap-1.5 text-sm', low ? 'text-amber-800 dark:text-amber-300' : 'text-slate-600 dark:text-slate-400')}>
        <Timer className="h-4 w-4 shrink-0" aria-hidden />
        {left > 0 ? (
          <span>
            Expires in <span className="font-mono font-medium tabular-nums text-slate-900 dark:text-white">{formatClock(left)}</span>
          </span>
        ) : (
          <span>Expired, cleaning up…</span>
        )}
      </p>
    </div>
  );
}

/** How much of its life a running container has left: the card's full width, under its last row. */
function ExpiryBar({ c, now }: { c: Container; now: number }) {
  const left = c.expires_at - now;
  const life = Math.max(1, c.expires_at - (c.started_at ?? c.created_at));
  const frac = Math.min(1, Math.max(0, left / life));
  return (
    <div data-testid="expiry-bar" className="h-1 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" aria-hidden>
      <div
        className={cn('h-full rounded-full', left < 300 ? 'bg-amber-500' : 'bg-emerald-600 dark:bg-emerald-400')}
        style={{ width: `${frac * 100}%` }}
      />
    </div>
  );
}

export interface ContainerCardProps {
  container: Container;
  templateTitle?: string;
  now: number;
  onDelete: (c: Container) => void;
}

export function ContainerCard({ container: c, templateTitle, now, onDelete }: ContainerCardProps) {
  const ended = c.state === 'deleted';
  const canDelete = c.state === 'pending' || c.state === 'running' || c.state === 'failed';
  const title = templateTitle ?? c.template;
  return (
    <li
      aria-label={`${title} container ${c.id}: ${c.state}`}
      data-testid={`container-${c.id}`}
      className={cn(
        'rounded-2xl border bg-white p-4 shadow-sm motion-safe:animate-slide-up sm:p-5 dark:bg-slate-900',
        c.state === 'running' && 'border-emerald-200 dark:border-emerald-900/70',
        c.state === 'failed' && 'border-red-200 dark:border-red-900/70',
        c.state === 'pending' && 'border-amber-200 dark:border-amber-900/60',
        (c.state === 'deleting' || ended) && 'border-slate-200 dark:border-slate-800',
        ended && 'bg-slate-50 shadow-none dark:bg-slate-900/50',
      )}
    >
      <div className="flex items-start gap-3">
        <div
          aria-hidden
          className={cn(
            'flex h-10 w-10 shrink-0 items-center justify-center rounded-xl',
            c.state === 'running' ? 'bg-emerald-100 text-emerald-800 dark:bg-emerald-400/15 dark:text-emerald-300' : 'bg-slate-100 text-slate-600 dark:bg-slate-800 dark:text-slate-300',
          )}
        >
          <Box className="h-5 w-5" />
        </div>
        <div className="min-w-0 flex-1">
          <div className="flex items-start justify-between gap-2">
            <h3 className={cn('truncate font-semibold', ended ? 'text-slate-600 dark:text-slate-400' : 'text-slate-900 dark:text-white')}>{title}</h3>
            <StateBadge state={c.state} />
          </div>
          <p className="truncate font-mono text-xs text-slate-500 dark:text-slate-400">{c.id}</p>
        </div>
      </div>

      <div className="mt-4 space-y-3">
        {c.state === 'pending' && c.phase === 'waiting' ? <WaitingLine c={c} now={now} /> : null}
        {c.state === 'pending' && c.phase !== 'waiting' ? (
          <div className="flex flex-wrap items-center justify-between gap-x-4 gap-y-2">
            <PhaseSteps phase={c.phase} />
            <p className="text-sm text-slate-600 dark:text-slate-400">
              Pending for <span className="font-mono tabular-nums text-slate-900 dark:text-white">{formatClock(now - c.created_at)}</span>
            </p>
          </div>
        ) : null}

        {c.state === 'running' && c.url ? (
          <div className="flex items-center gap-1 rounded-xl border border-slate-200 bg-slate-50 p-1 pl-3 dark:border-slate-700 dark:bg-slate-800/60">
            <a
              href={c.url}
              target="_blank"
              rel="noopener noreferrer"
              // A phone wraps the address rather than hide its end (the port, on a local stack),
              // and only after a dot or a colon, never inside a word. (The name is the address
              // itself, whatever the break opportunities do to how it is read.)
              aria-label={address(c.url)}
              className="min-w-0 flex-1 py-1.5 font-mono text-sm sm:truncate sm:py-0 text-emerald-800 underline-offset-2 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-600 dark:text-emerald-300"
            >
              {address(c.url)
                .split(/(?<=[.:])/)
                .map((part, i) => (
                  <Fragment key={i}>
                    {i > 0 ? <wbr /> : null}
                    {part}
                  </Fragment>
                ))}
            </a>
            <CopyButton text={c.url} label="Copy URL" />
            <a
              href={c.url}
              target="_blank"
              rel="noopener noreferrer"
              aria-label="Open in a new tab"
              className="inline-flex h-9 w-9 shrink-0 items-center justify-center rounded-lg text-slate-700 hover:bg-slate-200 focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-600 dark:text-slate-300 dark:hover:bg-slate-700"
            >
              <ExternalLink className="h-4 w-4" aria-hidden />
            </a>
          </div>
        ) : null}

        {c.state === 'running' && !c.url ? (
          <p className="text-sm text-slate-600 dark:text-slate-400">Running; its address is being published…</p>
        ) : null}

        {c.state === 'failed' ? (
          <div className="flex gap-2 rounded-xl bg-red-50 p-3 text-sm text-red-900 dark:bg-red-950/40 dark:text-red-200">
            <CircleAlert className="mt-0.5 h-4 w-4 shrink-0" aria-hidden />
            <p>
              <span className="font-semibold">Why it failed: </span>
              {c.error || 'The server did not give a reason.'}
            </p>
          </div>
        ) : null}

        {c.state === 'deleting' ? <p className="text-sm text-slate-600 dark:text-slate-400">Stopping and cleaning up…</p> : null}
        {ended ? (
          <p className="text-sm text-slate-600 dark:text-slate-400">
            Deleted {formatDurationWords(now - c.updated_at)} ago. Its address no longer works.
          </p>
        ) : null}

        {c.state === 'pending' || c.state === 'running' || c.state === 'failed' ? (
          <div className="flex items-center justify-between gap-3 border-t border-slate-100 pt-3 dark:border-slate-800">
            {/* While it waits, its end is when its place lapses: said in the line's note, not as an expiry. */}
            {c.phase === 'waiting' ? <span className="flex-1" /> : <Expiry c={c} now={now} />}
            {canDelete ? (
              <Button variant="secondary" size="sm" icon={<Trash2 className="h-4 w-4" aria-hidden />} onClick={() => onDelete(c)} aria-label={`Delete container ${c.id}`}>
                Delete
              </Button>
            ) : null}
          </div>
        ) : null}
        {c.state === 'running' ? <ExpiryBar c={c} now={now} /> : null}
      </div>
    </li>
  );
}
