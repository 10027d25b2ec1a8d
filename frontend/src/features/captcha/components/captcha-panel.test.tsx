import { createHash } from 'node:crypto';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '@/api/errors';
import type { CaptchaMode, VerifyRequest } from '@/api/types';
import { makeChallenge } from '@/testing/fixtures';
import type { CaptchaDeps } from '../hooks/use-captcha';
import { runPowInline } from '../pow/run-pow';
import { CaptchaPanel } from './captcha-panel';

function leadingZeroBits(hex: string) {
  const big = BigInt(`0x${hex}`);
  return big === 0n ? 256 : 256 - big.toString(2).length;
}

function deps(over: Partial<CaptchaDeps> = {}) {
  let n = 0;
  const requestChallenge = vi.fn(async (mode: CaptchaMode) => {
    n++;
    return mode === 'pow'
      ? makeChallenge({ challenge_id: `pow-${n}`, mode: 'pow', background: null, piece: null, piece_size: null, piece_y: null, pow: { salt: `s${n}`, difficulty: 6 } })
      : makeChallenge({ challenge_id: `ch-${n}`, pow: { salt: `s${n}`, difficulty: 6 } });
  });
  const verifyChallenge = vi.fn(async (_req: VerifyRequest) => ({ token: 'pass-1', expires_at: Date.now() / 1000 + 120 }));
  return { requestChallenge, verifyChallenge, runPow: runPowInline, ...over } satisfies CaptchaDeps;
}

function drag(slider: HTMLElement, dx: number) {
  fireEvent.pointerDown(slider, { pointerId: 1, clientX: 0, clientY: 0, button: 0 });
  fireEvent.pointerMove(slider, { pointerId: 1, clientX: dx / 2, clientY: 1 });
  fireEvent.pointerMove(slider, { pointerId: 1, clientX: dx, clientY: 2 });
  fireEvent.pointerUp(slider, { pointerId: 1, clientX: dx, clientY: 2 });
}

describe('CaptchaPanel', () => {
  it('solves the proof of work for the challenge and verifies the drag with it', async () => {
    const d = deps();
    const onPassed = vi.fn();
    render(<CaptchaPanel onPassed={onPassed} deps={d} />);
    const slider = await screen.findByRole('slider');
    expect(d.requestChallenge).toHaveBeenCalledWith('slider', expect.any(AbortSignal));
    drag(slider, 133);
    await waitFor(() => expect(onPassed).toHaveBeenCalledWith(expect.objectContaining({ token: 'pass-1' })));
    const req = vi.mocked(d.verifyChallenge).mock.calls[0][0];
    expect(req).toMatchObject({ challenge_id: 'ch-1', x: 133, input: 'pointer' });
    expect(req.track?.length).toBe(3);
    // the nonce satisfies the server's rule for this challenge's salt and difficulty
    const hex = createHash('sha256').update(`s1:${req.pow_nonce}`).digest('hex');
    expect(leadingZeroBits(hex)).toBeGreaterThanOrEqual(6);
    expect(await screen.findByText('Verified')).toBeInTheDocument();
  });

  it('after a failed answer explains it and fetches a fresh challenge', async () => {
    const d = deps({
      verifyChallenge: vi.fn(async () => {
        throw new ApiError({ kind: 'http', status: 403, code: 'captcha_failed', message: 'nope' });
      }),
    });
    const onPassed = vi.fn();
    render(<CaptchaPanel onPassed={onPassed} deps={d} />);
    drag(await screen.findByRole('slider'), 80);
    expect(await screen.findByText(/That did not fit/)).toBeInTheDocument();
    expect(screen.getByText('Not quite. New puzzle…')).toBeInTheDocument();
    await waitFor(() => expect(d.requestChallenge).toHaveBeenCalledTimes(2), { timeout: 3000 });
    const slider = await screen.findByRole('slider');
    expect(slider).toHaveAttribute('aria-valuenow', '0');
    expect(slider).not.toHaveAttribute('aria-disabled');
    expect(slider).toHaveFocus();
    expect(onPassed).not.toHaveBeenCalled();
  });

  it("offers the proof-of-work-only path: no puzzle, progress shown, x=0 and an empty track", async () => {
    const d = deps();
    const onPassed = vi.fn();
    render(<CaptchaPanel onPassed={onPassed} deps={d} />);
    await screen.findByRole('slider');
    fireEvent.click(screen.getByRole('button', { name: /can't use the puzzle/i }));
    await waitFor(() => expect(d.requestChallenge).toHaveBeenLastCalledWith('pow', expect.any(AbortSignal)));
    await waitFor(() => expect(onPassed).toHaveBeenCalled());
    expect(screen.queryByRole('slider')).not.toBeInTheDocument();
    expect(screen.getByRole('progressbar', { name: 'Proof of work progress' })).toHaveAttribute('aria-valuenow', '100');
    expect(vi.mocked(d.verifyChallenge).mock.calls[0][0]).toMatchObject({ challenge_id: 'pow-2', x: 0, track: [] });
  });

  it('never answers sooner than the challenge allows, however fast the proof of work', async () => {
    const issued: number[] = [];
    const answered: number[] = [];
    const d = deps({
      requestChallenge: vi.fn(async (mode: CaptchaMode) => {
        issued.push(Date.now());
        return makeChallenge({ challenge_id: `${mode}-x`, mode, background: null, piece: null, piece_size: null, piece_y: null, pow: { salt: 's', difficulty: 1 }, min_solve_seconds: 0.4 });
      }),
      verifyChallenge: vi.fn(async () => {
        answered.push(Date.now());
        return { token: 'pass-1', expires_at: Date.now() / 1000 + 120 };
      }),
    });
    const onPassed = vi.fn();
    render(<CaptchaPanel onPassed={onPassed} deps={d} />);
    fireEvent.click(await screen.findByRole('button', { name: /can't use the puzzle/i }));
    await waitFor(() => expect(onPassed).toHaveBeenCalled(), { timeout: 3000 });
    expect(answered).toHaveLength(1);
    expect(answered[0] - issued[issued.length - 1]).toBeGreaterThanOrEqual(400);
  });

  it('shows a readable state when no challenge can be had', async () => {
    const d = deps({
      requestChallenge: vi.fn(async () => {
        throw new ApiError({ kind: 'http', status: 429, code: 'rate_limited', message: 'slow', retryAfter: 30 });
      }),
    });
    render(<CaptchaPanel onPassed={vi.fn()} deps={d} />);
    expect(await screen.findAllByText(/Too many puzzles requested/)).not.toHaveLength(0);
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: /New puzzle/ }));
    });
    expect(d.requestChallenge).toHaveBeenCalledTimes(2);
  });
});
