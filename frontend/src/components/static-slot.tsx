import { useLayoutEffect, useState, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

/**
 * Renders into an element of the static page (index.html paints the header before any script
 * runs), taking the place of its `data-placeholder` child in the same frame. Without that
 * element (a component test), renders in place.
 */
export function StaticSlot({ id, children }: { id: string; children: ReactNode }) {
  const [slot] = useState(() => document.getElementById(id));
  useLayoutEffect(() => {
    slot?.querySelector(':scope > [data-placeholder]')?.remove();
  }, [slot]);
  return slot ? createPortal(children, slot) : <>{children}</>;
}
