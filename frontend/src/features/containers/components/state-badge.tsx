import { CircleCheck, CircleX, Clock, LoaderCircle, Trash2 } from 'lucide-react';
import type { ContainerState } from '@/api/types';
import { cn } from '@/lib/cn';

const styles: Record<ContainerState, { label: string; cls: string; icon: typeof Clock; spin?: boolean }> = {
  pending: {
    label: 'Pending',
    cls: 'bg-amber-50 text-amber-800 ring-amber-600/20 dark:bg-amber-400/10 dark:text-amber-300 dark:ring-amber-400/25',
    icon: LoaderCircle,
    spin: true,
  },
  running: {
    label: 'Running',
    cls: 'bg-emerald-50 text-emerald-800 ring-emerald-600/20 dark:bg-emerald-400/10 dark:text-emerald-300 dark:ring-emerald-400/25',
    icon: CircleCheck,
  },
  failed: {
    label: 'Failed',
    cls: 'bg-red-50 text-red-800 ring-red-600/20 dark:bg-red-400/10 dark:text-red-300 dark:ring-red-400/25',
    icon: CircleX,
  },
  deleting: {
    label: 'Deleting',
    cls: 'bg-slate-100 text-slate-700 ring-slate-500/20 dark:bg-slate-400/10 dark:text-slate-300 dark:ring-slate-400/25',
    icon: LoaderCircle,
    spin: true,
  },
  deleted: {
    label: 'Deleted',
    cls: 'bg-slate-100 text-slate-600 ring-slate-500/20 dark:bg-slate-400/10 dark:text-slate-400 dark:ring-slate-400/20',
    icon: Trash2,
  },
};

export function StateBadge({ state }: { state: ContainerState }) {
  const s = styles[state] ?? styles.pending;
  const Icon = s.icon;
  return (
    <span
      data-state={state}
      className={cn('inline-flex shrink-0 items-center gap-1.5 rounded-full px-2.5 py-1 text-xs font-semibold ring-1 ring-inset', s.cls)}
    >
      <Icon className={cn('h-3.5 w-3.5', s.spin && 'animate-spin motion-reduce:animate-none')} aria-hidden />
      {s.label}
    </span>
  );
}
