import type { PowMessage } from './pow.worker';
import { solvePow } from './solve';

export interface PowJob {
  /** Resolves with the nonce; rejects if cancelled or failed. */
  result: Promise<string>;
  cancel(): void;
}

export type PowRunner = (salt: string, difficulty: number, onProgress?: (attempts: number) => void) => PowJob;

/** Runs the proof of work in a Web Worker, so the page never freezes. */
export const runPowInWorker: PowRunner = (salt, difficulty, onProgress) => {
  if (typeof Worker === 'undefined') return runPowInline(salt, difficulty, onProgress);
  const worker = new Worker(new URL('./pow.worker.ts', import.meta.url), { type: 'module', name: 'sprout-pow' });
  let reject!: (e: Error) => void;
  const result = new Promise<string>((res, rej) => {
    reject = rej;
    worker.onmessage = (ev: MessageEvent<PowMessage>) => {
      const m = ev.data;
      if (m.type === 'progress') onProgress?.(m.attempts);
      else if (m.type === 'done') {
        onProgress?.(m.attempts);
        worker.terminate();
        res(m.nonce);
      } else {
        worker.terminate();
        rej(new Error(m.message));
      }
    };
    worker.onerror = (ev) => {
      worker.terminate();
      rej(new Error(ev.message || 'proof-of-work worker failed'));
    };
  });
  worker.postMessage({ salt, difficulty });
  return {
    result,
    cancel() {
      worker.terminate();
      reject(new Error('cancelled'));
    },
  };
};

/** Fallback (and test seam): same work on the main thread, deferred a tick. */
export const runPowInline: PowRunner = (salt, difficulty, onProgress) => {
  let cancelled = false;
  const result = new Promise<string>((res, rej) => {
    setTimeout(() => {
      if (cancelled) return rej(new Error('cancelled'));
      const s = solvePow(salt, difficulty, { onProgress });
      if (s) {
        onProgress?.(s.attempts);
        res(s.nonce);
      } else rej(new Error('no nonce found'));
    }, 0);
  });
  return {
    result,
    cancel() {
      cancelled = true;
    },
  };
};
