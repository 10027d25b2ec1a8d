import { Rocket, ShieldCheck } from 'lucide-react';
import { forwardRef, Suspense, useState } from 'react';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import type { CaptchaDeps } from '@/features/captcha/hooks/use-captcha';
import type { TemplatesState } from '@/features/containers/api/containers';
import { TemplatePicker } from '@/features/containers/components/template-picker';
import { cooldownStore } from '@/features/containers/cooldown';
import { useQuota } from '@/features/quota/api/rate-limit';
import { resetIn } from '@/features/quota/policies';
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

interface Blocked {
  /** what the page shows under the button, with a ticking clock */
  shown: string;
  /** what a screen reader hears once, when it starts: no ticking clock */
  announced: string;
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


  const cooling = cooldown.until != null && cooldown.until > now ? Math.ceil((cooldown.until - now) / 1000) : 0;
  const createsLeft = quota.creates?.remaining;
  const createsReset = resetIn(quota.creates, now);
  const liveLeft = quota.live?.remaining;

  let blocked: Blocked | null = null;
  if (cooling) {
    const what = cooldown.reason === 'capacity_full' ? 'Sprout is full.' : 'Limit reached.';
    blocked = { shown: `${what} Try again in ${formatClock(cooling)}`, announced: `${what} Try again at ${formatTimeOfDay(cooldown.until!)}.` };
  } else if (createsLeft === 0) {
    const at = quota.creates?.resetAt;
    blocked = createsReset
      ? { shown: `Create limit reached. Resets in ${formatClock(createsReset)}`, announced: `Create limit reached. It resets at ${formatTimeOfDay(at!)}.` }
      : { shown: 'Create limit reached', announced: 'Create limit reached.' };
  } else if (liveLeft === 0) {
    const text = 'You have the most live containers allowed. Delete one to start another.';
    blocked = { shown: text, announced: text };
  }

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
        className="w-full"
        disabled={!selected || !!blocked || templates.status !== 'ready'}
        aria-describedby={blocked ? 'create-hint' : undefined}
        onClick={() => setOpen(true)}
        // Heading for Create (hover, focus, touch): load the puzzle before the click.
        onPointerEnter={prepareCreate}
        onFocus={prepareCreate}
        onTouchStart={prepareCreate}
        icon={<Rocket className="h-5 w-5" aria-hidden />}
      >
        {selectedTitle ? `Create ${selectedTitle}` : 'Create container'}
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
