import { Accessibility, Cpu, Puzzle, RefreshCw } from 'lucide-react';
import type { ApiError } from '@/api/errors';
import type { PassToken } from '@/api/types';
import { Button } from '@/components/ui/button';
import { Skeleton } from '@/components/ui/skeleton';
import { cn } from '@/lib/cn';
import { useCaptcha, type CaptchaDeps } from '../hooks/use-captcha';
import { expectedAttempts } from '../pow/solve';
import { SliderCaptcha, type SliderStatus } from './slider-captcha';

/** The help fits the hand: a touch screen has no arrow keys (CSS picks, by the primary pointer). */
const SLIDER_HELP = (
  <>
    <span className="[@media(pointer:coarse)]:hidden">Drag the handle, or focus it and use the arrow keys, until the piece fits its gap.</span>
    <span className="hidden [@media(pointer:coarse)]:inline">Slide the handle with your finger until the piece fits its gap.</span>
  </>
);

export interface CaptchaPanelProps {
  onPassed: (token: PassToken) => void;
  deps?: CaptchaDeps;
  /** the server will not hand out a puzzle now (see useCaptcha) */
  onRefused?: (error: ApiError) => void;
  /** why the proof-of-work-only path is closed now ("Limit without the puzzle reached — opens at 22:12") */
  powRefusal?: string | null;
}

function PowProgress({ attempts, difficulty, done }: { attempts: number; difficulty: number; done: boolean }) {
  // The chance that a nonce has been found after n attempts is 1 - e^(-n / 2^d): an honest bar.
  const p = done ? 1 : 1 - Math.exp(-attempts / expectedAttempts(difficulty));
  const pct = Math.round(p * 100);
  return (
    <div>
      <div className="flex items-baseline justify-between text-sm">
        <span className="font-medium text-slate-800 dark:text-slate-200">{done ? 'Check complete' : 'Working on it…'}</span>
        <span className="font-mono text-xs tabular-nums text-slate-600 dark:text-slate-400">
          {attempts.toLocaleString()} hashes
        </span>
      </div>
      <div
        role="progressbar"
        aria-label="Proof of work progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-valuetext={done ? 'Done' : `${pct} percent likely done`}
        className="mt-2 h-2.5 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
      >
        <div
          className="h-full rounded-full bg-emerald-600 transition-[width] duration-300 motion-reduce:transition-none dark:bg-emerald-400"
          style={{ width: `${Math.max(3, pct)}%` }}
        />
      </div>
    </div>
  );
}

/** The whole CAPTCHA step: slider puzzle, or the proof-of-work-only path for those who can't use it. */
export function CaptchaPanel({ onPassed, deps, onRefused, powRefusal }: CaptchaPanelProps) {
  const flow = useCaptcha(onPassed, deps, 'slider', onRefused);
  const { challenge, status, mode } = flow;
  // While the proof of work is still running the visitor may switch or restart; once the answer
  // is on its way to the server, not.
  const busy = status === 'passed' || (status === 'verifying' && (mode === 'slider' || flow.powDone));
  const sliderStatus: SliderStatus =
    status === 'verifying' ? 'verifying' : status === 'passed' ? 'passed' : status === 'failed' ? 'failed' : 'ready';

  return (
    <div>
      {mode === 'slider' ? (
        <p className="mb-4 text-sm text-slate-600 dark:text-slate-400">Slide the piece into its gap to show you are a person.</p>
      ) : null}
      {mode === 'slider' ? (
        <>
          {challenge && challenge.background && challenge.piece && challenge.piece_size != null && challenge.piece_y != null ? (
            <SliderCaptcha
              key={challenge.challenge_id}
              width={challenge.width}
              height={challenge.height}
              background={challenge.background}
              piece={challenge.piece}
              pieceSize={challenge.piece_size}
              pieceY={challenge.piece_y}
              status={sliderStatus}
              onSubmit={flow.submit}
              autoFocus
            />
          ) : (
            <div className="mx-auto w-full max-w-[320px]" aria-busy={status === 'loading'}>
              {status === 'error' ? (
                <div className="flex aspect-[2/1] w-full flex-col items-center justify-center gap-2 rounded-xl border border-dashed border-slate-300 p-4 text-center text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
                  <Puzzle className="h-6 w-6" aria-hidden />
                  {flow.message}
                </div>
              ) : (
                <Skeleton className="aspect-[2/1] w-full rounded-xl" />
              )}
              <Skeleton className="mt-3 h-12 w-full rounded-xl" />
            </div>
          )}
        </>
      ) : (
        <div className="rounded-2xl border border-slate-200 bg-slate-50 p-4 dark:border-slate-800 dark:bg-slate-950/40">
          <div className="flex gap-3">
            <Cpu className="mt-0.5 h-5 w-5 shrink-0 text-emerald-700 dark:text-emerald-400" aria-hidden />
            <p className="text-sm text-slate-700 dark:text-slate-300">
              Instead of the puzzle, your browser solves a small computation. It usually takes under ten seconds and
              needs nothing from you. This path has stricter limits.
            </p>
          </div>
          {/* Not a live region: the count of hashes changes many times a second. */}
          <div className="mt-4">
            {challenge ? (
              <PowProgress attempts={flow.powAttempts} difficulty={challenge.pow.difficulty} done={flow.powDone} />
            ) : status === 'error' ? (
              <p className="text-sm text-slate-700 dark:text-slate-300">{flow.message}</p>
            ) : (
              <Skeleton className="h-10 w-full" />
            )}
          </div>
        </div>
      )}

      <p
        role="status"
        aria-live="polite"
        className={cn(
          'mt-3 min-h-[2.5rem] text-center text-sm',
          status === 'failed' ? 'font-medium text-red-700 dark:text-red-400' : 'text-slate-600 dark:text-slate-400',
        )}
      >
        {status === 'failed' || status === 'error'
          ? flow.message
          : status === 'verifying'
            ? mode === 'pow'
              ? flow.powDone
                ? 'Checking…'
                : ''
              : flow.powDone
                ? 'Checking your answer…'
                : 'Finishing the background check…'
            : status === 'passed'
              ? 'Verified. Creating your container…'
              : mode === 'slider'
                ? SLIDER_HELP
                : ''}
      </p>

      <div className="mt-2 flex items-center justify-between gap-1 border-t border-slate-200 pt-3 dark:border-slate-800">
        <Button
          variant="ghost"
          size="xs"
          className="-ml-2"
          icon={<RefreshCw className="h-4 w-4" aria-hidden />}
          onClick={flow.newChallenge}
          disabled={busy || status === 'loading'}
        >
          New {mode === 'slider' ? 'puzzle' : 'check'}
        </Button>
        <Button
          variant="ghost"
          size="xs"
          className="-mr-2"
          icon={mode === 'slider' ? <Accessibility className="h-4 w-4" aria-hidden /> : <Puzzle className="h-4 w-4" aria-hidden />}
          onClick={() => (mode === 'slider' && powRefusal ? undefined : flow.setMode(mode === 'slider' ? 'pow' : 'slider'))}
          disabled={busy}
          // The path without the puzzle has its own, stricter limit: closed, it says so rather than start.
          aria-disabled={mode === 'slider' && powRefusal ? true : undefined}
          aria-describedby={mode === 'slider' && powRefusal ? 'pow-refusal' : undefined}
        >
          {mode === 'slider' ? "Can't use the puzzle?" : 'Use the puzzle instead'}
        </Button>
      </div>
      {mode === 'slider' && powRefusal ? (
        <p id="pow-refusal" className="mt-1 text-right text-xs text-amber-800 dark:text-amber-300">
          {powRefusal}
        </p>
      ) : null}
    </div>
  );
}
