import { useCallback, useEffect, useRef, useState } from 'react';
import { isApiError, type ApiError } from '@/api/errors';
import type { CaptchaMode, Challenge, PassToken } from '@/api/types';
import { notifyError } from '@/stores/notifications';
import { requestChallenge as defaultRequest, verifyChallenge as defaultVerify } from '../api/captcha';
import type { SliderSubmission } from '../components/slider-captcha';
import { runPowInWorker, type PowJob, type PowRunner } from '../pow/run-pow';

export type CaptchaStatus =
  | 'loading' // fetching a challenge
  | 'ready' // waiting for the visitor (slider) or the proof of work (pow)
  | 'verifying'
  | 'failed' // brief: a fresh challenge follows
  | 'passed'
  | 'error'; // could not get a challenge (rate limited, offline…); the visitor may retry

export interface CaptchaDeps {
  requestChallenge: typeof defaultRequest;
  verifyChallenge: typeof defaultVerify;
  runPow: PowRunner;
}

const defaultDeps: CaptchaDeps = { requestChallenge: defaultRequest, verifyChallenge: defaultVerify, runPow: runPowInWorker };

export interface CaptchaFlow {
  mode: CaptchaMode;
  status: CaptchaStatus;
  challenge: Challenge | null;
  powAttempts: number;
  powDone: boolean;
  /** a short line for the visitor (failure reason, what happens next) */
  message: string | null;
  submit(s: SliderSubmission): void;
  newChallenge(): void;
  setMode(m: CaptchaMode): void;
}

const FAILED_PAUSE_MS = 1100;
/** Sent this long after the server's minimum, so that clock granularity never makes it early. */
const MIN_SOLVE_MARGIN_MS = 100;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one CAPTCHA: fetch a challenge, start its proof of work at once (in a worker), collect
 * the slider answer (or, in pow mode, just the nonce), verify, and hand the pass token over.
 * A failure fetches a fresh challenge (the server allows one attempt per challenge).
 */
/**
 * `onRefused`: the server refused to hand out a puzzle because the create would be refused anyway
 * (a limit, or Sprout full): nobody should solve one for nothing, so the caller closes the step.
 */
export function useCaptcha(
  onPassed: (token: PassToken) => void,
  deps: CaptchaDeps = defaultDeps,
  initialMode: CaptchaMode = 'slider',
  onRefused?: (error: ApiError) => void,
): CaptchaFlow {
  const [mode, setModeState] = useState<CaptchaMode>(initialMode);
  const [status, setStatus] = useState<CaptchaStatus>('loading');
  const [challenge, setChallenge] = useState<Challenge | null>(null);
  const [powAttempts, setPowAttempts] = useState(0);
  const [powDone, setPowDone] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);

  const job = useRef<PowJob | null>(null);
  const receivedAt = useRef(0);
  const alive = useRef(true);
  const onPassedRef = useRef(onPassed);
  onPassedRef.current = onPassed;
  const onRefusedRef = useRef(onRefused);
  onRefusedRef.current = onRefused;
  const depsRef = useRef(deps);
  const modeRef = useRef(mode);
  modeRef.current = mode;

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
      job.current?.cancel();
    };
  }, []);

  const newChallenge = useCallback(() => setGeneration((g) => g + 1), []);

  const verify = useCallback(async (c: Challenge, s: SliderSubmission, nonceJob: PowJob, gen: number, receivedAt: number) => {
    setStatus('verifying');
    let nonce: string;
    try {
      nonce = await nonceJob.result;
    } catch {
      return; // cancelled: a newer challenge took over
    }
    // The server refuses answers that come sooner than it allows after issuing the challenge;
    // a fast device finds the proof of work before that (the challenge was issued before we
    // received it, so counting from our receipt is never early).
    const minimumMs = (c.min_solve_seconds ?? 0) * 1000;
    const early = minimumMs > 0 ? receivedAt + minimumMs + MIN_SOLVE_MARGIN_MS - Date.now() : 0;
    if (early > 0) await sleep(early);
    if (!alive.current || gen !== genRef.current) return;
    try {
      const token = await depsRef.current.verifyChallenge({
        challenge_id: c.challenge_id,
        x: s.x,
        track: s.track,
        input: s.input,
        pow_nonce: nonce,
      });
      if (!alive.current || gen !== genRef.current) return;
      setStatus('passed');
      setMessage(null);
      onPassedRef.current(token);
    } catch (e) {
      if (!alive.current || gen !== genRef.current) return;
      if (isApiError(e) && e.code === 'captcha_failed') {
        setStatus('failed');
        setMessage(
          modeRef.current === 'pow'
            ? 'The check did not pass. Starting a new one…'
            : 'That did not fit. Here comes a fresh puzzle; line the piece up with its gap.',
        );
        setTimeout(() => alive.current && setGeneration((g) => g + 1), FAILED_PAUSE_MS);
      } else {
        notifyError(e);
        setStatus('error');
        setMessage('We could not check your answer. Try a new puzzle.');
      }
    }
  }, []);

  const genRef = useRef(generation);
  genRef.current = generation;

  // Fetch a challenge whenever the generation or the mode changes.
  useEffect(() => {
    const ac = new AbortController();
    const gen = generation;
    job.current?.cancel();
    job.current = null;
    setStatus('loading');
    setChallenge(null);
    setPowAttempts(0);
    setPowDone(false);
    depsRef.current
      .requestChallenge(mode, ac.signal)
      .then((c) => {
        if (ac.signal.aborted) return;
        receivedAt.current = Date.now();
        setChallenge(c);
        setStatus('ready');
        const j = depsRef.current.runPow(c.pow.salt, c.pow.difficulty, (n) => alive.current && setPowAttempts(n));
        job.current = j;
        j.result.then(
          () => alive.current && gen === genRef.current && setPowDone(true),
          () => undefined,
        );
        if (mode === 'pow') void verify(c, { x: 0, track: [], input: 'keyboard' }, j, gen, receivedAt.current);
      })
      .catch((e) => {
        if (ac.signal.aborted || (isApiError(e) && e.kind === 'aborted')) return;
        if (isApiError(e) && (e.status === 429 || e.status === 503) && onRefusedRef.current) {
          onRefusedRef.current(e);
          return;
        }
        setStatus('error');
        setMessage(
          isApiError(e) && e.code === 'rate_limited'
            ? 'Too many puzzles requested. Wait a moment, then ask for a new one.'
            : 'Could not load a puzzle.',
        );
      });
    return () => ac.abort();
  }, [generation, mode, verify]);

  // A challenge that expires unsolved is replaced quietly.
  useEffect(() => {
    if (!challenge || status !== 'ready') return;
    const ms = challenge.expires_at * 1000 - Date.now() - 2000;
    if (ms <= 0 || ms > 2 ** 31 - 1) return;
    const t = setTimeout(() => setGeneration((g) => g + 1), ms);
    return () => clearTimeout(t);
  }, [challenge, status]);

  const submit = useCallback(
    (s: SliderSubmission) => {
      if (!challenge || !job.current || status !== 'ready') return;
      void verify(challenge, s, job.current, genRef.current, receivedAt.current);
    },
    [challenge, status, verify],
  );

  const setMode = useCallback((m: CaptchaMode) => {
    setMessage(null);
    setModeState(m);
  }, []);

  return { mode, status, challenge, powAttempts, powDone, message, submit, newChallenge, setMode };
}
