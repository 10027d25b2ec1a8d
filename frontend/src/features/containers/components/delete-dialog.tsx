import { Trash2 } from 'lucide-react';
import type { Container } from '@/api/types';
import { Button } from '@/components/ui/button';
import { Dialog } from '@/components/ui/dialog';
import { useDeleteContainer } from '../api/mutations';

export interface DeleteDialogProps {
  container: Container | null;
  onClose: () => void;
}

/** Asks first; the list shows the result (deleting, then deleted), any error is already reported. */
export function DeleteDialog({ container, onClose }: DeleteDialogProps) {
  const remove = useDeleteContainer();
  const busy = remove.isPending;
  return (
    <Dialog
      open={!!container}
      onClose={onClose}
      locked={busy}
      title="Delete this container?"
      description={
        container?.state === 'running'
          ? 'It stops right away and its address stops working. This cannot be undone.'
          : 'It will be removed. This cannot be undone.'
      }
      initialFocusSelector="[data-autofocus]"
    >
      {container ? (
        <p className="rounded-xl bg-slate-100 px-3 py-2 font-mono text-sm text-slate-800 dark:bg-slate-800 dark:text-slate-200">{container.id}</p>
      ) : null}
      <div className="mt-5 flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
        <Button variant="secondary" onClick={onClose} disabled={busy} data-autofocus>
          Keep it
        </Button>
        <Button
          variant="danger"
          loading={busy}
          icon={<Trash2 className="h-4 w-4" aria-hidden />}
          onClick={() => {
            if (container) remove.mutate(container.id, { onSettled: onClose });
          }}
        >
          Delete container
        </Button>
      </div>
    </Dialog>
  );
}
