import { Rocket, ShieldCheck } from 'lucide-react';
import { forwardRef, useCallback, useState } from 'react';
import type { PassToken } from '@/api/types';
import { notify } from '@/stores/notifications';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { Dialog } from '@/components/ui/dialog';
import { CaptchaPanel } from '@/features/captcha/components/captcha-panel';
import type { CaptchaDeps } from '@/features/captcha/hooks/use-captcha';
import { useCreateContainer, type TemplatesState } from '@/features/containers/api/containers';
import { TemplatePicker } from '@/features/containers/components/template-picker';
import { cooldownStore } from '@/features/containers/cooldown';
import { useQuota } from '@/features/quota/api/rate-limit';
import { useNowMs } from '@/hooks/use-now';
import { useStore } from '@/lib/store';
import { formatClock } from '@/lib/time';

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
  const [picked, setPicked] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const create = useCreateContainer();
  const quota = useQuota();
  const now = useNowMs();
  const cooldown = useStore(cooldownStore);

  const selected = picked ?? templates.templates[0]?.name ?? null;
  const selectedTitle = templates.templates.find((t) => t.name === selected)?.title ?? selected;

  const { mutate } = create;
  const onPassed = useCallback(
    (token: PassToken) => {
      if (!selected) return;
      mutate(
        { template: selected, token: token.token },
        {
          onSuccess: () => {
            onCreated();
            notify({ tone: 'success', title: 'Container requested', message: `${selectedTitle} is starting. It usually takes a few seconds.` });
          },
          onSettled: () => setOpen(false),
        },
      );
    },
    [mutate, onCreated, selected, selectedTitle],
  );

  const cooling = cooldown.until != null && cooldown.until > now ? Math.ceil((cooldown.until - now) / 1000) : 0;
  const createsLeft = quota.creates?.remaining;
  const createsReset = quota.creates?.resetAt ? Math.max(0, Math.ceil((quota.creates.resetAt - now) / 1000)) : null;
  const liveLeft = quota.live?.remaining;

  let blocked: string | null = null;
  if (cooling) blocked = cooldown.reason === 'capacity_full' ? `Sprout is full. Try again in ${formatClock(cooling)}` : `Limit reached. Try again in ${formatClock(cooling)}`;
  else if (createsLeft === 0) blocked = createsReset ? `Create limit reached. Resets in ${formatClock(createsReset)}` : 'Create limit reached';
  else if (liveLeft === 0) blocked = 'You have the most live containers allowed. Delete one to start another.';

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
          onChange={setPicked}
          onRetry={templates.retry}
        />
      </div>
      <Button
        size="lg"
        className="mt-4 w-full"
        disabled={!selected || !!blocked || templates.status !== 'ready'}
        onClick={() => setOpen(true)}
        icon={<Rocket className="h-5 w-5" aria-hidden />}
      >
        {selectedTitle ? `Create ${selectedTitle}` : 'Create container'}
      </Button>
      <p className="mt-3 flex items-start justify-center gap-1.5 text-center text-xs text-slate-600 dark:text-slate-400" aria-live="polite">
        {blocked ? (
          <span className="font-medium text-amber-800 dark:text-amber-300">{blocked}</span>
        ) : (
          <>
            <ShieldCheck className="h-4 w-4 shrink-0" aria-hidden />
            <span>A quick puzzle keeps bots out. No account needed.</span>
          </>
        )}
      </p>

      <Dialog
        open={open}
        onClose={() => setOpen(false)}
        locked={create.isPending}
        title="Quick check"
        initialFocusSelector="[role=slider]"
      >
        <CaptchaPanel onPassed={onPassed} deps={captchaDeps} />
      </Dialog>
    </Card>
  );
});
