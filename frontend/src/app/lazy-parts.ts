import { createElement, lazy, useEffect, useState, type ReactNode } from 'react';

/**
 * Parts of the page a first visit does not need, each a chunk loaded on first use: the puzzle
 * with its proof of work (when the visitor heads for Create), and the container cards with the
 * delete dialog (when there is a container to show). Loading starts early where the page can
 * tell it will be needed; each loader is safe to call again.
 */
export const loadCreateDialog = () => import('./create-dialog');
export const loadContainerList = () => import('@/features/containers/components/container-list');
const loadDeleteDialog = () => import('@/features/containers/components/delete-dialog');

export const CreateDialog = lazy(() => loadCreateDialog().then((m) => ({ default: m.CreateDialog })));
export const ContainerList = lazy(() => loadContainerList().then((m) => ({ default: m.ContainerList })));
export const DeleteDialog = lazy(() => loadDeleteDialog().then((m) => ({ default: m.DeleteDialog })));

type SideModule = typeof import('./side-column');
let side: SideModule | null = null;
/** The side column (the quota story): asked for with the first screen's answers (first-screen.ts). */
export const loadSideColumn = () => import('./side-column').then((m) => (side = m));

/**
 * The side column, rendered at once when its chunk is already in (the first screen waited for it),
 * else `fallback` until it is: no Suspense round, so the first pass is the finished page.
 */
export function SideColumn({ fallback }: { fallback: ReactNode }) {
  const [loaded, setLoaded] = useState(side);
  useEffect(() => {
    if (!loaded) void loadSideColumn().then(setLoaded, () => undefined);
  }, [loaded]);
  return loaded ? createElement(loaded.SideColumn) : fallback;
}

/** The visitor is about to create: the puzzle, then the card that follows. */
export function prepareCreate(): void {
  void loadCreateDialog();
  void loadContainerList();
}
