import { FlaskConical, Leaf, Sprout } from 'lucide-react';
import { useCallback, useRef, useState } from 'react';
import type { Container } from '@/api/types';
import { NetworkBanner } from '@/components/network/network-banner';
import { Toaster } from '@/components/notifications/toaster';
import { ContainerList } from '@/features/containers/components/container-list';
import { DeleteDialog } from '@/features/containers/components/delete-dialog';
import { useContainers, useTemplates } from '@/features/containers/api/containers';
import { QuotaBar } from '@/features/quota/components/quota-bar';
import { useOnlineTracking } from '@/hooks/use-page-activity';
import { formatDurationWords } from '@/lib/time';
import { CreateContainer } from './create-container';

function prefersReducedMotion() {
  return typeof window !== 'undefined' && window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
}

export function App() {
  useOnlineTracking();
  const templates = useTemplates();
  const containers = useContainers();
  const [toDelete, setToDelete] = useState<Container | null>(null);
  const createRef = useRef<HTMLDivElement>(null);
  const listRef = useRef<HTMLElement>(null);

  // The new card is in the list (the create put it there); on a phone, show it.
  const onCreated = useCallback(() => {
    if (window.matchMedia?.('(max-width: 1023px)').matches) {
      listRef.current?.scrollIntoView({ behavior: prefersReducedMotion() ? 'auto' : 'smooth', block: 'start' });
    }
  }, []);

  const live = containers?.filter((c) => c.state === 'pending' || c.state === 'running').length ?? 0;

  return (
    <div className="min-h-dvh">
      <a
        href="#containers"
        className="sr-only focus:not-sr-only focus:fixed focus:left-3 focus:top-3 focus:z-50 focus:rounded-lg focus:bg-white focus:px-3 focus:py-2 focus:text-sm focus:font-semibold focus:shadow-lg dark:focus:bg-slate-900"
      >
        Skip to your containers
      </a>
      <header className="border-b border-slate-200/80 bg-white/70 backdrop-blur dark:border-slate-800/80 dark:bg-slate-950/70">
        <div className="mx-auto flex max-w-6xl flex-col gap-4 px-4 py-4 sm:px-6 md:flex-row md:items-center md:justify-between md:py-5">
          <div className="flex items-center gap-3">
            <div className="flex h-10 w-10 shrink-0 items-center justify-center rounded-xl bg-emerald-700 text-white shadow-sm shadow-emerald-900/20 dark:bg-emerald-500 dark:text-emerald-950">
              <Sprout className="h-6 w-6" aria-hidden />
            </div>
            <div className="min-w-0">
              <h1 className="flex items-center gap-2 text-xl font-bold tracking-tight text-slate-900 dark:text-white">
                Sprout
                {templates.simulated ? (
                  <span
                    className="inline-flex items-center gap-1 rounded-full bg-violet-100 px-2 py-0.5 text-xs font-semibold text-violet-800 dark:bg-violet-400/15 dark:text-violet-300"
                    title="This Sprout runs against a simulated Kubernetes cluster: containers are not real pods."
                  >
                    <FlaskConical className="h-3.5 w-3.5" aria-hidden />
                    Simulated cluster
                  </span>
                ) : null}
              </h1>
              <p className="text-sm text-slate-600 dark:text-slate-400">A short-lived container on Kubernetes in seconds. No account.</p>
            </div>
          </div>
          <QuotaBar />
        </div>
      </header>
      <NetworkBanner />

      <main className="mx-auto grid max-w-6xl gap-6 px-4 py-6 sm:px-6 lg:grid-cols-[minmax(0,24rem)_minmax(0,1fr)] lg:items-start lg:gap-8 lg:py-10">
        <section aria-labelledby="new-container" className="min-w-0 lg:sticky lg:top-6">
          <CreateContainer ref={createRef} templates={templates} onCreated={onCreated} />
          <ul className="mt-4 hidden space-y-2 px-1 text-sm text-slate-600 lg:block dark:text-slate-400">
            <li>
              • Each container lives {templates.lifetime ? formatDurationWords(templates.lifetime) : 'a limited time'}, then it is
              deleted.
            </li>
            <li>• Hardened pods: no root, no privileges, no cluster access.</li>
            <li>• Your containers are tied to this browser by a private cookie.</li>
          </ul>
        </section>

        <section
          id="containers"
          ref={listRef}
          aria-labelledby="containers-title"
          // On a phone a returning visitor sees their containers first; the create form follows.
          className={`min-w-0 scroll-mt-4 ${containers?.some((c) => c.state !== 'deleted') ? 'order-first lg:order-none' : ''}`}
        >
          <div className="mb-3 flex items-baseline justify-between gap-3">
            <h2 id="containers-title" className="text-lg font-semibold tracking-tight text-slate-900 dark:text-white">
              Your containers
            </h2>
            {containers?.length ? (
              <p className="text-sm text-slate-600 dark:text-slate-400">
                {live} live · {containers.length} total
              </p>
            ) : null}
          </div>
          <ContainerList
            containers={containers}
            templates={templates.templates}
            onDelete={setToDelete}
            onStart={() => {
              createRef.current?.scrollIntoView({ behavior: prefersReducedMotion() ? 'auto' : 'smooth', block: 'start' });
              createRef.current?.querySelector<HTMLInputElement>('input[type=radio]:checked, input[type=radio]')?.focus();
            }}
          />
        </section>
      </main>

      <footer className="mx-auto max-w-6xl px-4 pb-24 pt-4 text-xs text-slate-500 sm:px-6 sm:pb-10 dark:text-slate-400">
        <p className="flex items-center gap-1.5">
          <Leaf className="h-3.5 w-3.5" aria-hidden />
          Sprout is a public playground. Be kind: everything you run is deleted when it expires.
        </p>
      </footer>

      <DeleteDialog container={toDelete} onClose={() => setToDelete(null)} />
      <Toaster />
    </div>
  );
}
