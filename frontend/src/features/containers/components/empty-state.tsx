import { Sprout } from 'lucide-react';
import { Skeleton } from '@/components/ui/skeleton';

/** Before the first answer (or while the cards' code loads): the shape of two cards. */
export function ListPlaceholder() {
  return (
    <div aria-busy="true" aria-label="Loading your containers" className="space-y-3">
      <Skeleton className="h-36 w-full rounded-2xl" />
      <Skeleton className="h-36 w-full rounded-2xl" />
    </div>
  );
}

export function EmptyState({ onStart, elsewhere = 0 }: { onStart?: () => void; elsewhere?: number }) {
  return (
    <div className="flex flex-col items-center rounded-2xl border border-dashed border-slate-300 bg-white/60 px-6 py-12 text-center dark:border-slate-700 dark:bg-slate-900/40">
      <div className="relative">
        <div aria-hidden className="absolute inset-0 rounded-full bg-emerald-400/20 blur-xl dark:bg-emerald-400/10" />
        <div className="relative flex h-16 w-16 items-center justify-center rounded-2xl bg-emerald-100 text-emerald-700 dark:bg-emerald-400/15 dark:text-emerald-300">
          <Sprout className="h-8 w-8" aria-hidden />
        </div>
      </div>
      <h3 className="mt-5 text-lg font-semibold text-slate-900 dark:text-white">{elsewhere ? 'No containers in this browser' : 'No containers yet'}</h3>
      <p className="mt-1 max-w-sm text-sm text-slate-600 dark:text-slate-400">
        {elsewhere
          ? `${elsewhere === 1 ? '1 live container' : `${elsewhere} live containers`} from your address ${elsewhere === 1 ? 'is' : 'are'} in another browser, and count${elsewhere === 1 ? 's' : ''} against your limits here too.`
          : 'Pick a template, solve a quick puzzle, and your first container is live in seconds with its own web address.'}
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
