/// <reference lib="webworker" />
import { solvePow } from './solve';

export type PowRequest = { salt: string; difficulty: number };
export type PowMessage =
  | { type: 'progress'; attempts: number }
  | { type: 'done'; nonce: string; attempts: number; ms: number }
  | { type: 'error'; message: string };

const ctx = self as unknown as DedicatedWorkerGlobalScope;

ctx.onmessage = (ev: MessageEvent<PowRequest>) => {
  const { salt, difficulty } = ev.data;
  const started = performance.now();
  try {
    const result = solvePow(salt, difficulty, {
      progressEvery: 1 << 15,
      onProgress: (attempts) => ctx.postMessage({ type: 'progress', attempts } satisfies PowMessage),
    });
    if (!result) throw new Error('no nonce found');
    ctx.postMessage({ type: 'done', nonce: result.nonce, attempts: result.attempts, ms: performance.now() - started } satisfies PowMessage);
  } catch (e) {
    ctx.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies PowMessage);
  }
};
