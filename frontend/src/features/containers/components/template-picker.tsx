import { Box, Code, Cpu, Globe, MemoryStick, NotebookPen, SquareTerminal, type LucideIcon } from 'lucide-react';
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
      <div className="grid gap-2" aria-busy="true" aria-label="Loading templates">
        {[0, 1, 2].map((i) => (
          <Skeleton key={i} className="h-[5.5rem] w-full rounded-xl" />
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
  return (
    <fieldset className="min-w-0">
      <legend className="sr-only">Template</legend>
      <div className="grid gap-2">
        {templates.map((t) => {
          const Icon = iconFor(t);
          const checked = value === t.name;
          return (
            <label
              key={t.name}
              className={cn(
                'group relative flex min-w-0 cursor-pointer gap-3 rounded-xl border p-3 transition-colors motion-reduce:transition-none',
                'has-[:focus-visible]:outline has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-emerald-600',
                checked
                  ? 'border-emerald-600 bg-emerald-50/70 ring-1 ring-emerald-600 dark:border-emerald-500 dark:bg-emerald-400/10 dark:ring-emerald-500'
                  : 'border-slate-200 hover:border-slate-300 hover:bg-slate-50 dark:border-slate-800 dark:hover:border-slate-700 dark:hover:bg-slate-800/50',
              )}
            >
              <input
                type="radio"
                name="template"
                value={t.name}
                checked={checked}
                onChange={() => onChange(t.name)}
                className="sr-only"
              />
              <span
                aria-hidden
                className={cn(
                  'flex h-10 w-10 shrink-0 items-center justify-center rounded-lg',
                  checked ? 'bg-emerald-700 text-white dark:bg-emerald-500 dark:text-emerald-950' : 'bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300',
                )}
              >
                <Icon className="h-5 w-5" />
              </span>
              <span className="min-w-0 flex-1">
                <span className="flex items-center justify-between gap-2">
                  <span className="font-semibold text-slate-900 dark:text-white">{t.title}</span>
                  <span
                    aria-hidden
                    className={cn(
                      'flex h-5 w-5 shrink-0 items-center justify-center rounded-full border-2',
                      checked ? 'border-emerald-700 dark:border-emerald-400' : 'border-slate-300 dark:border-slate-600',
                    )}
                  >
                    {checked ? <span className="h-2.5 w-2.5 rounded-full bg-emerald-700 dark:bg-emerald-400" /> : null}
                  </span>
                </span>
                <span className="mt-0.5 line-clamp-2 block text-sm text-slate-600 dark:text-slate-400">{t.description}</span>
                <span className="mt-2 flex flex-wrap gap-x-3 gap-y-1 text-xs text-slate-600 dark:text-slate-400">
                  <span className="inline-flex items-center gap-1">
                    <Cpu className="h-3.5 w-3.5" aria-hidden />
                    <span className="sr-only">CPU</span>
                    {t.cpu}
                  </span>
                  <span className="inline-flex items-center gap-1">
                    <MemoryStick className="h-3.5 w-3.5" aria-hidden />
                    <span className="sr-only">Memory</span>
                    {t.memory}
                  </span>
                </span>
                <span className="mt-1 block truncate font-mono text-xs text-slate-500 dark:text-slate-400" title={t.image}>
                  {t.image.split('@')[0]}
                </span>
              </span>
            </label>
          );
        })}
      </div>
    </fieldset>
  );
}
