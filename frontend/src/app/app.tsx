import { FlaskConical, Leaf } from 'lucide-react';
import { Suspense, useCallback, useRef, useState } from 'react';
import type { Container } from '@/api/types';
import { NetworkBanner } from '@/components/network/network-banner';
import { Toaster } from '@/components/notifications/toaster';
import { StaticSlot } from '@/components/static-slot';
import { EmptyState, ListPlaceholder } from '@/features/containers/components/empty-state';
import { useContainers, useTemplates } from '@/features/containers/api/containers';
import { useQuota } from '@/features/quota/api/rate-limit';
import { QuotaBar } from '@/features/quota/components/quota-bar';
import { useOnlineTracking } from '@/hooks/use-page-activity';
import { formatDurationWords } from '@/lib/time';
import { CreateContainer } from './create-container';
import { ContainerList, DeleteDialog, SideColumn } from './lazy-parts';

function prefersReducedMotion() {
  return typeof window !== 'undefined' && window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
}

const CLEARED_KEY = 'sprout:cleared';

function readCleared(): Set<string> {
  try {
    const ids: unknown = JSON.parse(localStorage.getItem(CLEARED_KEY) ?? '[]');
    return new Set(Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []);
  } catch {
    return new Set(); // storage off or garbled: nothing is cleared
  }
}

function writeCleared(ids: Set<string>): void {
  try {
    localStorage.setItem(CLEARED_KEY, JSON.stringify([...ids]));
  } catch {
    // storage off: cleared for this visit only
  }
}

export function App() {
  useOnlineTracking();
  const templates = useTemplates();
  const listed = useContainers();
  const [cleared, setCleared] = useState(readCleared);
  // Deleted cards the visitor cleared away stay away (the server keeps them until they expire).
  const containers = listed?.filter((c) => !cleared.has(c.id)) ?? null;
  const ended = containers?.filter((c) => c.state === 'deleted') ?? [];
  const clearEnded = () => {
    // Only ids the server still lists are kept: the stored set never outgrows the list.
    const next = new Set(listed?.filter((c) => cleared.has(c.id) || c.state === 'deleted').map((c) => c.id));
    setCleared(next);
    writeCleared(next);
  };
  const [toDelete, setToDelete] = useState<Container | null>(null);
  const createRef = useRef<HTMLDivElement>(null);
  const listRef = useRef<HTMLElement>(null);

  // The new card is in the list (the create put it there); on a phone, show it.
  const onCreated = useCallback(() => {
    if (window.matchMedia?.('(max-width: 1023px)').matches) {
      listRef.current?.scrollIntoView({ behavior: prefersReducedMotion() ? 'auto' : 'smooth', block: 'start' });
    }
  }, []);

  const startFirst = useCallback(() => {
    createRef.current?.scrollIntoView({ behavior: prefersReducedMotion() ? 'auto' : 'smooth', block: 'start' });
    createRef.current?.querySelector<HTMLInputElement>('input[type=radio]:checked, input[type=radio]')?.focus();
  }, []);

  const live = containers?.filter((c) => c.state === 'pending' || c.state === 'running').length ?? 0;
  // Live containers of this address that this browser does not hold (another browser, a lost
  // cookie): one count, the same as the quota's, so the two never tell different stories.
  const elsewhere = useQuota().others.filter((o) => o.scope === 'address').length;

  return (
    <>
      <StaticSlot id="cluster-badge">
        {templates.simulated ? (
          <span
            className="inline-flex items-center gap-1 rounded-full bg-violet-100 px-2 py-0.5 text-xs font-semibold text-violet-800 dark:bg-violet-400/15 dark:text-violet-300"
            title="This Sprout runs against a simulated Kubernetes cluster: containers are not real pods."
          >
            <FlaskConical className="h-3.5 w-3.5" aria-hidden />
            Simulated cluster
          </span>
        ) : null}
      </StaticSlot>
      <StaticSlot id="quota">
        <QuotaBar />
      </StaticSlot>
      <NetworkBanner />

      <main className="mx-auto grid max-w-6xl gap-6 px-4 py-6 sm:px-6 lg:grid-cols-[minmax(0,24rem)_minmax(0,1fr)] lg:items-start lg:gap-8 lg:py-10">
        <section aria-labelledby="new-container" className="min-w-0 lg:sticky lg:top-6 lg:row-span-2">
          <CreateContainer ref={createRef} templates={templates} onCreated={onCreated} />
          <ul className="mt-4 list-disc space-y-1.5 pl-5 pr-1 text-sm text-slate-600 marker:text-slate-400 dark:text-slate-400">
            <li>Each container lives {templates.lifetime ? formatDurationWords(templates.lifetime) : 'a limited time'}, then it is deleted.</li>
            <li>Hardened pods: no root, no privileges, no cluster access.</li>
            <li>Your containers are tied to this browser by a private cookie.</li>
          </ul>
        </section>

        <section
          id="containers"
          ref={listRef}
          aria-labelledby="containers-title"
          // On a phone a returning visitor sees their containers first; the create form follows.
          className={`min-w-0 scroll-mt-4 ${containers?.some((c) => c.state !== 'deleted') ? 'order-first lg:order-none' : ''}`}
        >
          <div className="mb-3 flex flex-wrap items-baseline justify-between gap-x-3 gap-y-1">
            <h2 id="containers-title" className="text-lg font-semibold tracking-tight text-slate-900 dark:text-white">
              Your containers
            </h2>
            {containers?.length || elsewhere ? (
              <p className="flex flex-wrap items-baseline gap-x-3 text-sm text-slate-600 dark:text-slate-400">
                {containers?.length ? (
                  <span className="whitespace-nowrap">
                    {live} live · {containers.length} total
                  </span>
                ) : null}
                {elsewhere ? (
                  <a
                    href="#limits"
                    className="whitespace-nowrap font-medium text-slate-700 underline underline-offset-4 hover:text-slate-900 focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-600 dark:text-slate-300 dark:hover:text-white"
                  >
                    +{elsewhere} from your address, not here
                  </a>
                ) : null}
                {ended.length ? (
                  <button
                    type="button"
                    onClick={clearEnded}
                    className="whitespace-nowrap font-semibold text-emerald-800 underline-offset-4 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-600 dark:text-emerald-300"
                  >
                    Clear deleted
                  </button>
                ) : null}
              </p>
            ) : null}
          </div>
          {containers === null ? (
            <ListPlaceholder />
          ) : containers.length === 0 ? (
            <EmptyState onStart={startFirst} elsewhere={elsewhere} />
          ) : (
            <Suspense fallback={<ListPlaceholder />}>
              <ContainerList containers={containers} templates={templates.templates} onDelete={setToDelete} />
            </Suspense>
          )}
        </section>

        {/* Desktop: under the list, in the right column (Create spans both rows on the left). */}
        <div className="min-w-0 lg:col-start-2">
          <SideColumn fallback={<div className="h-80 rounded-2xl border border-slate-200 bg-white/60 dark:border-slate-800 dark:bg-slate-900/40" aria-hidden />} />
        </div>
      </main>

      <footer className="mx-auto max-w-6xl px-4 pb-24 pt-4 text-xs text-slate-500 sm:px-6 sm:pb-10 dark:text-slate-400">
        <p className="flex items-center gap-1.5">
          <Leaf className="h-3.5 w-3.5" aria-hidden />
          Sprout is a public playground. Be kind: everything you run is deleted when it expires.
        </p>
      </footer>

      {toDelete ? (
        <Suspense fallback={null}>
          <DeleteDialog container={toDelete} onClose={() => setToDelete(null)} />
        </Suspense>
      ) : null}
      <Toaster />
    </>
  );
}
