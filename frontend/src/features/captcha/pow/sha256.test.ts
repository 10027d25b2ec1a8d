import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { leadingZeroBits, sha256, sha256Words, toHex } from './sha256';
import { solvePow } from './solve';

const nodeSha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

function zeroBitsOfHex(hex: string): number {
  let n = 0;
  for (const ch of hex) {
    const v = parseInt(ch, 16);
    if (v === 0) {
      n += 4;
      continue;
    }
    return n + Math.clz32(v) - 28;
  }
  return n;
}

describe('sha256', () => {
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    // 448 bits: padding spills into a second block
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
    // 896 bits (FIPS 180-2 appendix B.3-style two-block message)
    [
      'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
      'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
    ],
    ['The quick brown fox jumps over the lazy dog', 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592'],
    ['héllo wörld ✓', nodeSha('héllo wörld ✓')],
  ])('hashes %j like FIPS 180-4', (input, hex) => {
    expect(toHex(sha256(input))).toBe(hex);
  });

  it('hashes one million "a" (many blocks)', () => {
    expect(toHex(sha256('a'.repeat(1_000_000)))).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it('agrees with node:crypto on every length around the block boundaries', () => {
    for (let len = 0; len <= 200; len++) {
      const data = new Uint8Array(randomBytes(len));
      expect(toHex(sha256(data)), `length ${len}`).toBe(nodeSha(data));
    }
  });

  it('counts leading zero bits across word boundaries', () => {
    expect(leadingZeroBits(new Int32Array([0, 0x00ffffff, 0, 0, 0, 0, 0, 0]))).toBe(40);
    expect(leadingZeroBits(new Int32Array([-1, 0, 0, 0, 0, 0, 0, 0]))).toBe(0);
    expect(leadingZeroBits(new Int32Array(8))).toBe(256);
    const words = sha256Words(new TextEncoder().encode('abc'));
    expect(leadingZeroBits(words)).toBe(zeroBitsOfHex(nodeSha('abc')));
  });
});

describe('solvePow: the nonce rule', () => {
  function checkSmallest(salt: string, difficulty: number) {
    const sol = solvePow(salt, difficulty);
    expect(sol).not.toBeNull();
    const n = Number(sol!.nonce);
    expect(sol!.nonce).toBe(String(n)); // plain decimal, no padding
    expect(sol!.attempts).toBe(n + 1);
    expect(zeroBitsOfHex(nodeSha(`${salt}:${n}`))).toBeGreaterThanOrEqual(difficulty);
    for (let m = 0; m < n; m++) {
      expect(zeroBitsOfHex(nodeSha(`${salt}:${m}`)), `nonce ${m} must not qualify`).toBeLessThan(difficulty);
    }
    return n;
  }

  it('finds the smallest qualifying decimal nonce', () => {
    checkSmallest('c0ffee', 8);
    checkSmallest('a1b2c3d4e5f6', 10);
  });

  it('crosses digit-length changes (9 -> 10, 99 -> 100) correctly', () => {
    // For this salt the answer is past 100, so every rejected nonce on the way (checked against
    // node:crypto) went through both carries of the in-place decimal increment.
    expect(checkSmallest('edge', 12)).toBeGreaterThan(100);
  });

  it('handles salts longer than one block (midstate path) and non-ASCII salts', () => {
    checkSmallest('x'.repeat(70), 8);
    checkSmallest('y'.repeat(130), 6);
    checkSmallest('sälz-✓', 8);
  });

  it('difficulty 0 accepts nonce "0"', () => {
    expect(solvePow('anything', 0)).toEqual({ nonce: '0', attempts: 1 });
  });

  it('reports progress and can give up', () => {
    const seen: number[] = [];
    const sol = solvePow('progress', 40, { maxAttempts: 5000, progressEvery: 1000, onProgress: (a) => seen.push(a) });
    expect(sol).toBeNull();
    expect(seen).toEqual([1000, 2000, 3000, 4000, 5000]);
  });

  it('rejects a nonsense difficulty', () => {
    expect(() => solvePow('s', -1)).toThrow(RangeError);
    expect(() => solvePow('s', 1.5)).toThrow(RangeError);
  });
});
