import type { Container, Template } from '@/api/types';
import { useServerNow } from '@/hooks/use-now';
import { ContainerCard } from './container-card';
import { EmptyState, ListPlaceholder } from './empty-state';

const ORDER: Record<Container['state'], number> = { pending: 0, running: 0, deleting: 1, failed: 2, deleted: 3 };

export function sortContainers(list: Container[]): Container[] {
  return [...list].sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.created_at - a.created_at);
}

export interface ContainerListProps {
  containers: Container[] | null;
  templates: Template[];
  onDelete: (c: Container) => void;
  onStart?: () => void;
}

export function ContainerList({ containers, templates, onDelete, onStart }: ContainerListProps) {
  const now = useServerNow();
  if (containers === null) return <ListPlaceholder />;
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
