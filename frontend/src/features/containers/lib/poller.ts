/**
 * Polls the caller's container list with ETag / If-None-Match, so that an unchanged list costs
 * the server a 304 and no body. Fast (about 1 s) while anything is pending or deleting, slow
 * otherwise, paused while the tab is hidden or the browser is offline, backing off on errors.
 * Pure logic with injected fetch and timers, so it is tested without a DOM.
 */
import type { Container } from '@/api/types';
import type { ListResult } from '../api/containers';

export interface PollerOptions {
  fetchList: (etag: string | null, signal: AbortSignal) => Promise<ListResult>;
  onData: (containers: Container[]) => void;
  onError: (error: unknown, consecutiveFailures: number) => void;
  onRecovered?: () => void;
  fastMs: number;
  slowMs: number;
  maxBackoffMs?: number;
  isPaused: () => boolean;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export interface Poller {
  start(): void;
  stop(): void;
  /** Poll now (abandoning a poll in flight), e.g. after a create or delete. */
  refresh(opts?: { forgetEtag?: boolean }): void;
  /** Call when the page becomes visible or online again. */
  resume(): void;
  readonly etag: string | null;
  readonly containers: Container[] | null;
}

export function isBusy(containers: Container[] | null): boolean {
  return !!containers?.some((c) => c.state === 'pending' || c.state === 'deleting');
}

export function createPoller(o: PollerOptions): Poller {
  const setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = o.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  const maxBackoff = o.maxBackoffMs ?? 30_000;
  let etag: string | null = null;
  let containers: Container[] | null = null;
  let timer: unknown = null;
  let inflight: AbortController | null = null;
  let running = false;
  let failures = 0;
  let waitingForResume = false;

  const schedule = (ms: number) => {
    if (timer !== null) clearTimer(timer);
    timer = setTimer(() => {
      timer = null;
      void tick();
    }, ms);
  };

  const nextDelay = () => {
    if (failures > 0) return Math.min(maxBackoff, o.fastMs * 2 ** Math.min(failures, 10));
    return isBusy(containers) ? o.fastMs : o.slowMs;
  };

  async function tick() {
    if (!running) return;
    if (o.isPaused()) {
      waitingForResume = true;
      return;
    }
    inflight?.abort();
    const ac = new AbortController();
    inflight = ac;
    try {
      const result = await o.fetchList(etag, ac.signal);
      if (ac.signal.aborted || !running) return;
      etag = result.etag;
      if (result.changed) {
        containers = result.containers;
        o.onData(result.containers);
      }
      if (failures > 0) {
        failures = 0;
        o.onRecovered?.();
      }
    } catch (e) {
      if (ac.signal.aborted || !running) return;
      failures++;
      o.onError(e, failures);
    } finally {
      if (inflight === ac) inflight = null;
    }
    if (running && !ac.signal.aborted) schedule(nextDelay());
  }

  return {
    start() {
      if (running) return;
      running = true;
      void tick();
    },
    stop() {
      running = false;
      inflight?.abort();
      if (timer !== null) clearTimer(timer);
      timer = null;
    },
    refresh(opts) {
      if (!running) return;
      if (opts?.forgetEtag) etag = null;
      if (timer !== null) clearTimer(timer);
      timer = null;
      void tick();
    },
    resume() {
      if (!running || !waitingForResume) return;
      waitingForResume = false;
      if (timer !== null) clearTimer(timer);
      timer = null;
      void tick();
    },
    get etag() {
      return etag;
    },
    get containers() {
      return containers;
    },
  };
}
