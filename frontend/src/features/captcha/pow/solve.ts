/**
 * The proof-of-work rule shared with the server (docs/abuse.md):
 * find the smallest decimal nonce n = 0, 1, 2, ... such that SHA-256(UTF-8(salt + ":" + n))
 * has at least `difficulty` leading zero bits.
 *
 * The salt prefix is hashed once ("midstate") when it spans whole blocks; per nonce only the
 * tail block(s) are compressed, and the decimal digits are incremented in place.
 */
import { H0, compress, leadingZeroBits, pad } from './sha256';

export interface SolveOptions {
  /** Called every `progressEvery` attempts with the number of attempts so far. */
  onProgress?: (attempts: number) => void;
  progressEvery?: number;
  /** Give up after this many attempts (returns null). */
  maxAttempts?: number;
}

export interface PowSolution {
  nonce: string;
  attempts: number;
}

/** Does `salt:nonce` meet the difficulty? (Straightforward reference check, used by tests.) */
export function meetsDifficulty(hashWords: Int32Array, difficulty: number): boolean {
  return leadingZeroBits(hashWords) >= difficulty;
}

export function solvePow(salt: string, difficulty: number, opts: SolveOptions = {}): PowSolution | null {
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > 256) {
    throw new RangeError(`difficulty must be an integer in 0..256, got ${difficulty}`);
  }
  const { onProgress, progressEvery = 1 << 14, maxAttempts = Number.MAX_SAFE_INTEGER } = opts;
  const prefix = new TextEncoder().encode(`${salt}:`);
  const fullBlocks = Math.floor(prefix.length / 64);
  const mid = new Int32Array(H0);
  for (let b = 0; b < fullBlocks; b++) compress(mid, prefix, b * 64);
  const tailPrefix = prefix.subarray(fullBlocks * 64);
  const P = tailPrefix.length;

  // digits of the current nonce, most significant first
  const digits: number[] = [0x30];
  const buf = new Uint8Array(256);
  buf.set(tailPrefix);
  const h = new Int32Array(8);

  for (let attempts = 0; attempts < maxAttempts; ) {
    const D = digits.length;
    for (let i = 0; i < D; i++) buf[P + i] = digits[i];
    const total = pad(buf, P + D);
    // the length field must count the whole message, including the midstate blocks
    if (fullBlocks) {
      const bits = (prefix.length + D) * 8;
      buf[total - 4] = bits >>> 24;
      buf[total - 3] = (bits >>> 16) & 0xff;
      buf[total - 2] = (bits >>> 8) & 0xff;
      buf[total - 1] = bits & 0xff;
    }
    h.set(mid);
    for (let off = 0; off < total; off += 64) compress(h, buf, off);
    attempts++;
    if (leadingZeroBits(h) >= difficulty) {
      return { nonce: String.fromCharCode(...digits), attempts };
    }
    if (onProgress && attempts % progressEvery === 0) onProgress(attempts);
    // increment the decimal string in place
    let i = D - 1;
    while (i >= 0 && digits[i] === 0x39) digits[i--] = 0x30;
    if (i < 0) digits.unshift(0x31);
    else digits[i]++;
  }
  return null;
}

/** Expected attempts for a difficulty (for a progress estimate). */
export function expectedAttempts(difficulty: number): number {
  return 2 ** difficulty;
}
