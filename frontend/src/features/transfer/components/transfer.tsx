import { KeyRound, Smartphone } from 'lucide-react';
import { lazy, Suspense, useEffect, useState } from 'react';
import { Button } from '@/components/ui/button';
import { useContainers } from '@/features/containers/api/containers';
import { notify } from '@/stores/notifications';
import { carriedWords, cleanCode, TRANSFER_PARAM, transferFailure, useRedeemTransferCode } from '../api/transfer';
import type { TransferMode } from './transfer-dialog';

// The dialog is a chunk of its own: most visits never open it.
const TransferDialog = lazy(() => import('./transfer-dialog').then((m) => ({ default: m.TransferDialog })));

/**
 * Carrying containers between browsers: "Use on another device" (when this browser has
 * some), "I have a code" for the other side, and a transfer link (`/?transfer=<code>`)
 * redeemed as the page opens.
 */
export function Transfer() {
  useRedeemLink();
  const listed = useContainers();
  const [mode, setMode] = useState<TransferMode | null>(null);
  const hasContainers = !!listed?.some((c) => c.state !== 'deleted');
  return (
    <div className="mt-3 flex flex-wrap gap-x-2 gap-y-1">
      {hasContainers ? (
        <Button variant="ghost" size="sm" icon={<Smartphone className="h-4 w-4" aria-hidden />} onClick={() => setMode('give')}>
          Use on another device
        </Button>
      ) : null}
      <Button variant="ghost" size="sm" icon={<KeyRound className="h-4 w-4" aria-hidden />} onClick={() => setMode('take')}>
        I have a transfer code
      </Button>
      {mode ? (
        <Suspense fallback={null}>
          <TransferDialog mode={mode} onClose={() => setMode(null)} />
        </Suspense>
      ) : null}
    </div>
  );
}

/** Redeems the code of a transfer link once: the parameter leaves the address at once, so a
 * reload or a bookmark never tries a used code again. */
export function useRedeemLink(): void {
  const { mutate } = useRedeemTransferCode();
  useEffect(() => {
    const url = new URL(window.location.href);
    const typed = url.searchParams.get(TRANSFER_PARAM);
    if (typed === null) return;
    url.searchParams.delete(TRANSFER_PARAM);
    window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
    const code = cleanCode(typed);
    if (!code) {
      notify({ tone: 'error', title: 'Transfer link not valid', message: 'This link has no usable code. Make a new one on the device that has the containers.' });
      return;
    }
    mutate(code, {
      onSuccess: (list) => notify({ tone: 'success', title: 'Containers carried over', message: carriedWords(list.containers.length) }),
      onError: (error) => notify({ tone: 'error', title: 'Transfer link not used', message: transferFailure(error), timeout: 0 }),
    });
  }, [mutate]);
}
