import { describeError, isApiError } from '@/api/errors';
import { createStore } from '@/lib/store';

export interface Notification {
  id: string;
  /** Notifications with the same key replace each other instead of stacking (e.g. polling errors). */
  key?: string;
  tone: 'error' | 'warning' | 'info' | 'success';
  title: string;
  message: string;
  retryAt?: number | null;
  /** ms; 0 means it stays until dismissed */
  timeout: number;
  createdAt: number;
}

export const notificationStore = createStore<Notification[]>([]);

let seq = 0;
const MAX_VISIBLE = 4;

export function notify(n: Omit<Notification, 'id' | 'createdAt' | 'timeout'> & { timeout?: number }): string {
  const id = `n${++seq}`;
  const timeout = n.timeout ?? (n.tone === 'success' || n.tone === 'info' ? 4000 : 9000);
  const item: Notification = { ...n, id, timeout, createdAt: Date.now() };
  notificationStore.set((list) => {
    const rest = n.key ? list.filter((x) => x.key !== n.key) : list;
    return [...rest, item].slice(-MAX_VISIBLE);
  });
  return id;
}

export function dismiss(idOrKey: string): void {
  notificationStore.set((list) => {
    const next = list.filter((x) => x.id !== idOrKey && x.key !== idOrKey);
    return next.length === list.length ? list : next;
  });
}

/** The one path by which errors reach the visitor. */
export function notifyError(error: unknown, key?: string): void {
  if (isApiError(error) && error.kind === 'aborted') return;
  const d = describeError(error);
  const hasCountdown = d.retryAt != null && d.retryAt > Date.now();
  notify({
    key: key ?? (isApiError(error) ? `api:${error.code}` : undefined),
    tone: d.tone,
    title: d.title,
    message: d.message,
    retryAt: d.retryAt,
    // A countdown stays until it is over (or dismissed); others fade after a while.
    timeout: hasCountdown ? Math.min(d.retryAt! - Date.now(), 10 * 60_000) : d.tone === 'error' ? 10_000 : 8000,
  });
}
