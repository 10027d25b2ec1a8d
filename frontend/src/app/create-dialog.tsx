import { useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import type { ApiError } from '@/api/errors';
import type { PassToken } from '@/api/types';
import { Dialog } from '@/components/ui/dialog';
import { CaptchaPanel } from '@/features/captcha/components/captcha-panel';
import type { CaptchaDeps } from '@/features/captcha/hooks/use-captcha';
import { useCreateContainer } from '@/features/containers/api/mutations';
import { noteCreateError } from '@/features/containers/cooldown';
import { rateLimitKey, useQuota } from '@/features/quota/api/rate-limit';
import { blockerOf } from '@/features/quota/policies';
import { refusalWords } from '@/features/quota/words';
import { useNowMs } from '@/hooks/use-now';
import { notify } from '@/stores/notifications';

export interface CreateDialogProps {
  template: string;
  title: string;
  onClose: () => void;
  onCreated: () => void;
  captchaDeps?: CaptchaDeps;
}

/** Steps 2 and 3 of a create: the puzzle in a dialog (open while mounted), then POST /containers with the pass. */
export function CreateDialog({ template, title, onClose, onCreated, captchaDeps }: CreateDialogProps) {
  const { mutate, isPending } = useCreateContainer();
  const client = useQueryClient();
  const { policies } = useQuota();
  const now = useNowMs();
  const pow = blockerOf(policies, now, ['pow_creates_per_address']);
  // Refused before any puzzle (a limit closed since the page last looked): the Create button
  // says which and until when; the dialog goes.
  const onRefused = useCallback(
    (e: ApiError) => {
      noteCreateError(e);
      void client.invalidateQueries({ queryKey: rateLimitKey });
      onClose();
    },
    [client, onClose],
  );
  const onPassed = useCallback(
    (token: PassToken) =>
      mutate(
        { template, token: token.token },
        {
          onSuccess: () => {
            onCreated();
            notify({ tone: 'success', title: 'Container requested', message: `${title} is starting. It usually takes a few seconds.` });
          },
          onSettled: onClose,
        },
      ),
    [mutate, onClose, onCreated, template, title],
  );
  return (
    // The dialog stays while the pass is being spent (the create is in flight).
    <Dialog open onClose={onClose} locked={isPending} title="Quick check" initialFocusSelector="[role=slider]">
      <CaptchaPanel onPassed={onPassed} deps={captchaDeps} onRefused={onRefused} powRefusal={pow ? refusalWords(pow, now).button : null} />
    </Dialog>
  );
}
