import { cn } from '@/lib/cn';

export function Skeleton({ className }: { className?: string }) {
  return (
    <div
      aria-hidden
      className={cn(
        'rounded-lg bg-slate-200 bg-[linear-gradient(90deg,transparent,rgba(255,255,255,0.5),transparent)] bg-[length:200%_100%] motion-safe:animate-shimmer dark:bg-slate-800 dark:bg-[linear-gradient(90deg,transparent,rgba(255,255,255,0.06),transparent)]',
        className,
      )}
    />
  );
}
