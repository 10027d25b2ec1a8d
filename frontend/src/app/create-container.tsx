import { useQueryClient } from '@tanstack/react-query';
import { Clock, Rocket, ShieldCheck } from 'lucide-react';
import { forwardRef, Suspense, useState } from 'react';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { Spinner } from '@/components/ui/spinner';
import type { CaptchaDeps } from '@/features/captcha/hooks/use-captcha';
import type { TemplatesState } from '@/features/containers/api/containers';
import { TemplatePicker } from '@/features/containers/components/template-picker';
import { cooldownStore, type Cooldown } from '@/features/containers/cooldown';
import { recheckQuota, useQuota } from '@/features/quota/api/rate-limit';
import { blockerOf, type Policies } from '@/features/quota/policies';
import { refusalWords, type Refusal } from '@/features/quota/words';
import { useNowMs } from '@/hooks/use-now';
import { useStore } from '@/lib/store';
import { formatClock, formatTimeOfDay } from '@/lib/time';
import { CreateDialog, prepareCreate } from './lazy-parts';

const CHOSEN_KEY = 'sprout:template';

function readChosen(): string | null {
  try {
    return localStorage.getItem(CHOSEN_KEY);
  } catch {
    return null; // storage off (private mode, policy): the first template is chosen
  }
}

function writeChosen(name: string): void {
  try {
    localStorage.setItem(CHOSEN_KEY, name);
  } catch {
    // as above: the choice lasts this visit only
  }
}

/** What refuses a create now: a limit the quota shows closed, else what the server last said (a 429 or 503). */
function refusalNow(policies: Policies, cooldown: Cooldown, now: number): Refusal | null {
  const blocker = blockerOf(policies, now);
  if (blocker) return refusalWords(blocker, now);
  if (cooldown.until == null || cooldown.until <= now) return null;
  const named = cooldown.policy ? policies[cooldown.policy] : undefined;
  // The server said when to retry: that is when it opens.
  if (named?.limit != null) return refusalWords({ ...named, limit: named.limit, resetAt: cooldown.until }, now);
  const full = cooldown.reason === 'capacity_full';
  const title = full ? 'Sprout is full' : 'Limit reached';
  return {
    button: `${title} — try again at ${formatTimeOfDay(cooldown.until)}`,
    shown: `${full ? 'Every slot is taken.' : 'The server refused for now.'} Try again in ${formatClock((cooldown.until - now) / 1000)}.`,
    announced: `${title}. Try again at ${formatTimeOfDay(cooldown.until)}.`,
  };
}

export interface CreateContainerProps {
  templates: TemplatesState;
  onCreated: () => void;
  captchaDeps?: CaptchaDeps;
}

/** Step 1: pick a template. Step 2: the CAPTCHA in a dialog. Step 3: POST /containers with the pass. */
export const CreateContainer = forwardRef<HTMLDivElement, CreateContainerProps>(function CreateContainer(
  { templates, onCreated, captchaDeps },
  ref,
) {
  const [picked, setPicked] = useState<string | null>(readChosen);
  const [open, setOpen] = useState(false);
  const quota = useQuota();
  const now = useNowMs();
  const cooldown = useStore(cooldownStore);

  // The chosen template, kept across reloads while it is still offered.
  const selected = (picked && templates.templates.some((t) => t.name === picked) ? picked : null) ?? templates.templates[0]?.name ?? null;
  const choose = (name: string) => {
    setPicked(name);
    writeChosen(name);
  };
  const selectedTitle = templates.templates.find((t) => t.name === selected)?.title ?? selected;


  const client = useQueryClient();
  const [checking, setChecking] = useState(false);
  const blocked = refusalNow(quota.policies, cooldown, now);

  // The quota is asked again before the puzzle opens: a limit that closed meanwhile (another tab,
  // another browser on this address or network) is said here, before anyone solves a puzzle.
  const start = async () => {
    if (blocked || checking || !selected) return;
    prepareCreate();
    setChecking(true);
    let stillOpen = true;
    try {
      stillOpen = !blockerOf((await recheckQuota(client)).policies);
    } catch {
      // The quota could not be read: the server checks every limit again anyway.
    } finally {
      setChecking(false);
    }
    if (stillOpen) setOpen(true);
  };

  return (
    <Card ref={ref} className="p-4 sm:p-6">
      <div className="flex items-start justify-between gap-3">
        <div>
          <h2 id="new-container" className="text-lg font-semibold tracking-tight text-slate-900 dark:text-white">
            New container
          </h2>
          <p className="mt-0.5 text-sm text-slate-600 dark:text-slate-400">Choose what to run. It gets its own web address.</p>
        </div>
      </div>
      <div className="mt-4">
        <TemplatePicker
          templates={templates.templates}
          status={templates.status}
          value={selected}
          onChange={choose}
          onRetry={templates.retry}
        />
      </div>
      {/* On a phone, Create and the reason it is off stay at the bottom of the screen while the card is in view. */}
      <div className="sticky bottom-0 z-10 -mx-4 mt-4 border-t border-slate-200/80 bg-white/95 px-4 pb-[max(0.75rem,env(safe-area-inset-bottom))] pt-3 sm:static sm:mx-0 sm:border-0 sm:bg-transparent sm:p-0 dark:border-slate-800/80 dark:bg-slate-900/95 sm:dark:bg-transparent">
      <Button
        size="lg"
        className={blocked ? 'h-auto min-h-12 w-full py-2 text-sm leading-snug' : 'w-full'}
        // Off, yet focusable: a keyboard user stays on it and hears why (aria-describedby).
        disabled={!selected || templates.status !== 'ready'}
        aria-disabled={blocked ? true : undefined}
        aria-describedby={blocked ? 'create-hint' : undefined}
        aria-busy={checking || undefined}
        onClick={() => void start()}
        // Heading for Create (hover, focus, touch): load the puzzle before the click.
        onPointerEnter={prepareCreate}
        onFocus={prepareCreate}
        onTouchStart={prepareCreate}
        icon={checking ? <Spinner className="h-5 w-5" /> : blocked ? <Clock className="h-5 w-5 shrink-0" aria-hidden /> : <Rocket className="h-5 w-5" aria-hidden />}
      >
        {blocked ? blocked.button : selectedTitle ? `Create ${selectedTitle}` : 'Create container'}
      </Button>
      <p id="create-hint" className="mt-3 flex items-start justify-center gap-1.5 text-center text-xs text-slate-600 dark:text-slate-400">
        {blocked ? (
          <span className="font-medium text-amber-800 dark:text-amber-300">{blocked.shown}</span>
        ) : (
          <>
            <ShieldCheck className="h-4 w-4 shrink-0" aria-hidden />
            <span>A quick puzzle keeps bots out. No account needed.</span>
          </>
        )}
      </p>
      </div>
      {/* Heard once when a limit starts; the ticking clock above is not in a live region. */}
      <p id="create-status" role="status" className="sr-only">
        {blocked?.announced}
      </p>

      {open && selected ? (
        // Loaded on the way to this click (prepareCreate); nothing to show for the moment it may still take.
        <Suspense fallback={null}>
          <CreateDialog
            template={selected}
            title={selectedTitle ?? selected}
            onClose={() => setOpen(false)}
            onCreated={onCreated}
            captchaDeps={captchaDeps}
          />
        </Suspense>
      ) : null}
    </Card>
  );
});
