import { lazy, Suspense } from 'react';

// A chunk of its own, loaded after the first screen: the page's first load stays in budget,
// and the slot keeps the buttons' height so nothing moves when they arrive.
const Transfer = lazy(() => import('./components/transfer').then((m) => ({ default: m.Transfer })));

export function TransferSlot() {
  return (
    <div className="mt-3 min-h-9">
      <Suspense fallback={null}>
        <Transfer />
      </Suspense>
    </div>
  );
}
