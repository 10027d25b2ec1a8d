import { KeyRound, Smartphone } from 'lucide-react';
import { lazy, Suspense, useState } from 'react';
import { Button } from '@/components/ui/button';
import { useContainers } from '@/features/containers/api/containers';
import { openedWithTransferLink } from '../link';
import type { TransferMode } from './transfer-dialog';

// Chunks of their own: most visits never open the dialog nor come with a link.
const TransferDialog = lazy(() => import('./transfer-dialog').then((m) => ({ default: m.TransferDialog })));
const RedeemLink = lazy(() => import('./redeem-link').then((m) => ({ default: m.RedeemLink })));

/**
 * Carrying containers between browsers: "Use on another device" (when this browser has
 * some), "I have a transfer code" for the other side, and a transfer link (`/?transfer=<code>`)
 * redeemed as the page opens.
 */
export function Transfer() {
  const listed = useContainers();
  const [mode, setMode] = useState<TransferMode | null>(null);
  const [withLink] = useState(openedWithTransferLink);
  const hasContainers = !!listed?.some((c) => c.state !== 'deleted');
  return (
    <div className="flex flex-wrap gap-x-2 gap-y-1">
      {hasContainers ? (
        <Button variant="ghost" size="sm" icon={<Smartphone className="h-4 w-4" aria-hidden />} onClick={() => setMode('give')}>
          Use on another device
        </Button>
      ) : null}
      <Button variant="ghost" size="sm" icon={<KeyRound className="h-4 w-4" aria-hidden />} onClick={() => setMode('take')}>
        I have a transfer code
      </Button>
      <Suspense fallback={null}>{withLink ? <RedeemLink /> : null}</Suspense>
      <Suspense fallback={null}>{mode ? <TransferDialog mode={mode} onClose={() => setMode(null)} /> : null}</Suspense>
    </div>
  );
}
