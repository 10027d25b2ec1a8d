import { Trash2 } from 'lucide-react';
import { useState } from 'react';
import type { Container } from '@/api/types';
import { Button } from '@/components/ui/button';
import { Dialog } from '@/components/ui/dialog';
import { deleteContainer } from '../api/containers';

export interface DeleteDialogProps {
  container: Container | null;
  onClose: () => void;
  onDeleted: (c: Container) => void;
  /** e.g. 404 (already gone): refresh the list; the error itself is already shown. */
  onFailed?: () => void;
  remove?: typeof deleteContainer;
}

export function DeleteDialog({ container, onClose, onDeleted, onFailed, remove = deleteContainer }: DeleteDialogProps) {
  const [busy, setBusy] = useState(false);
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
          onClick={async () => {
            if (!container) return;
            setBusy(true);
            try {
              const record = await remove(container.id);
              onDeleted(record);
              onClose();
            } catch {
              // already reported through the notification path
              onFailed?.();
              onClose();
            } finally {
              setBusy(false);
            }
          }}
        >
          Delete container
        </Button>
      </div>
    </Dialog>
  );
}
