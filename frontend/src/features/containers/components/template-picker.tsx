import { Box, Code, Globe, NotebookPen, SquareTerminal, type LucideIcon } from 'lucide-react';
import type { Template } from '@/api/types';
import { Button } from '@/components/ui/button';
import { Skeleton } from '@/components/ui/skeleton';
import { cn } from '@/lib/cn';

/** Whole words of the name and image only: "go" is a language, not the start of "google". */
export function iconFor(t: Template): LucideIcon {
  const s = `${t.name} ${t.image}`.toLowerCase();
  const has = (words: string) => new RegExp(`\\b(${words})\\b`).test(s);
  if (has('jupyter|notebook')) return NotebookPen;
  if (has('python|node|deno|go|golang|ruby|code')) return Code;
  if (has('nginx|http|httpd|web|static|caddy|whoami|echo|hello')) return Globe;
  if (has('shell|terminal|busybox|alpine|ttyd')) return SquareTerminal;
  return Box;
}

export interface TemplatePickerProps {
  templates: Template[];
  status: 'loading' | 'ready' | 'error';
  value: string | null;
  onChange: (name: string) => void;
  onRetry: () => void;
}

export function TemplatePicker({ templates, status, value, onChange, onRetry }: TemplatePickerProps) {
  if (status === 'loading' && !templates.length) {
    return (
      <div className="grid grid-cols-2 gap-2" aria-busy="true" aria-label="Loading templates">
        {[0, 1, 2, 3].map((i) => (
          <Skeleton key={i} className="h-[3.75rem] w-full rounded-xl" />
        ))}
      </div>
    );
  }
  if (status === 'error' && !templates.length) {
    return (
      <div className="rounded-xl border border-dashed border-slate-300 p-4 text-sm text-slate-700 dark:border-slate-700 dark:text-slate-300">
        <p>Could not load the templates.</p>
        <Button className="mt-3" variant="secondary" size="sm" onClick={onRetry}>
          Try again
        </Button>
      </div>
    );
  }
  if (!templates.length) {
    return <p className="text-sm text-slate-600 dark:text-slate-400">No templates are offered right now.</p>;
  }
  const chosen = templates.find((t) => t.name === value);
  // Compact tiles, two to a row, so that Create stays in view; what the chosen one is and runs
  // is said once, under them.
  return (
    <fieldset className="min-w-0" aria-describedby="template-detail">
      <legend className="sr-only">Template</legend>
      <div className="grid grid-cols-2 gap-2">
        {templates.map((t) => {
          const Icon = iconFor(t);
          const checked = value === t.name;
          return (
            <label
              key={t.name}
              className={cn(
                'flex h-[3.75rem] min-w-0 cursor-pointer items-center gap-2.5 rounded-xl border px-2.5 transition-colors motion-reduce:transition-none',
                'has-[:focus-visible]:outline has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-emerald-600',
                checked
                  ? 'border-emerald-600 bg-emerald-50/70 ring-1 ring-emerald-600 dark:border-emerald-500 dark:bg-emerald-400/10 dark:ring-emerald-500'
                  : 'border-slate-200 hover:border-slate-300 hover:bg-slate-50 dark:border-slate-800 dark:hover:border-slate-700 dark:hover:bg-slate-800/50',
              )}
            >
              <input type="radio" name="template" value={t.name} checked={checked} onChange={() => onChange(t.name)} className="sr-only" />
              <span
                aria-hidden
                className={cn(
                  'flex h-8 w-8 shrink-0 items-center justify-center rounded-lg',
                  checked ? 'bg-emerald-700 text-white dark:bg-emerald-500 dark:text-emerald-950' : 'bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300',
                )}
              >
                <Icon className="h-4 w-4" />
              </span>
              {/* A long title takes two lines rather than losing its end; what it costs is said once, below. */}
              <span className="line-clamp-2 min-w-0 break-words text-sm font-semibold leading-tight text-slate-900 dark:text-white">{t.title}</span>
            </label>
          );
        })}
      </div>
      <p id="template-detail" className="mt-2 h-12 overflow-hidden px-1 text-xs text-slate-600 dark:text-slate-400">
        {chosen ? (
          <>
            <span className="line-clamp-2">{chosen.description}</span>
            <span className="block truncate font-mono text-slate-500 dark:text-slate-400" title={chosen.image}>
              {chosen.cpu} CPU · {chosen.memory} · {chosen.image.split('@')[0]}
            </span>
          </>
        ) : null}
      </p>
    </fieldset>
  );
}
