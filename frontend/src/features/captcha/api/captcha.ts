import { request } from '@/api/client';
import type { CaptchaMode, Challenge, PassToken, VerifyRequest } from '@/api/types';

export async function requestChallenge(mode: CaptchaMode, signal?: AbortSignal): Promise<Challenge> {
  const res = await request<Challenge>('/captcha/request', { method: 'POST', body: { action: 'create', mode }, signal });
  return res.data as Challenge;
}

/** A failed verify is part of the puzzle, not an app error: the caller shows it inline. */
export async function verifyChallenge(body: VerifyRequest, signal?: AbortSignal): Promise<PassToken> {
  const res = await request<PassToken>('/captcha/verify', { method: 'POST', body, signal, notify: false });
  return res.data as PassToken;
}
