import { Sprout } from 'lucide-react';
import type { Container, Template } from '@/api/types';
import { Skeleton } from '@/components/ui/skeleton';
import { useServerNow } from '@/hooks/use-now';
import { ContainerCard } from './container-card';

const ORDER: Record<Container['state'], number> = { pending: 0, running: 0, deleting: 1, failed: 2, deleted: 3 };

export function sortContainers(list: Container[]): Container[] {
  return [...list].sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.created_at - a.created_at);
}

export function EmptyState({ onStart }: { onStart?: () => void }) {
  return (
    <div className="flex flex-col items-center rounded-2xl border border-dashed border-slate-300 bg-white/60 px-6 py-12 text-center dark:border-slate-700 dark:bg-slate-900/40">
      <div className="relative">
        <div aria-hidden className="absolute inset-0 rounded-full bg-emerald-400/20 blur-xl dark:bg-emerald-400/10" />
        <div className="relative flex h-16 w-16 items-center justify-center rounded-2xl bg-emerald-100 text-emerald-700 dark:bg-emerald-400/15 dark:text-emerald-300">
          <Sprout className="h-8 w-8" aria-hidden />
        </div>
      </div>
      <h3 className="mt-5 text-lg font-semibold text-slate-900 dark:text-white">No containers yet</h3>
      <p className="mt-1 max-w-sm text-sm text-slate-600 dark:text-slate-400">
        Pick a template, solve a quick puzzle, and your first container is live in seconds with its own web address.
      </p>
      {onStart ? (
        <button
          type="button"
          onClick={onStart}
          className="mt-5 text-sm font-semibold text-emerald-800 underline-offset-4 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-600 dark:text-emerald-300"
        >
          Start your first container →
        </button>
      ) : null}
    </div>
  );
}

export interface ContainerListProps {
  containers: Container[] | null;
  templates: Template[];
  onDelete: (c: Container) => void;
  onStart?: () => void;
}

export function ContainerList({ containers, templates, onDelete, onStart }: ContainerListProps) {
  const now = useServerNow();
  if (containers === null) {
    return (
      <div aria-busy="true" aria-label="Loading your containers" className="space-y-3">
        <Skeleton className="h-36 w-full rounded-2xl" />
        <Skeleton className="h-36 w-full rounded-2xl" />
      </div>
    );
  }
  if (!containers.length) return <EmptyState onStart={onStart} />;
  const titles = new Map(templates.map((t) => [t.name, t.title]));
  return (
    <ul className="space-y-3" aria-label="Your containers">
      {sortContainers(containers).map((c) => (
        <ContainerCard key={c.id} container={c} templateTitle={titles.get(c.template)} now={now} onDelete={onDelete} />
      ))}
    </ul>
  );
}
