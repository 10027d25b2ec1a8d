import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './env';

describe('config', () => {
  it('has working defaults', () => {
    expect(parseConfig({})).toEqual({ apiBase: '', pollFastMs: 500, pollSlowMs: 8000, slowRequestMs: 3000, requestTimeoutMs: 20000 });
  });

  it('accepts valid values and trims a trailing slash', () => {
    expect(parseConfig({ VITE_API_BASE: 'https://api.example/', VITE_POLL_FAST_MS: '750' })).toMatchObject({ apiBase: 'https://api.example', pollFastMs: 750 });
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      parseConfig({ VITE_API_BASE: 'not a url', VITE_POLL_FAST_MS: 'fast', VITE_REQUEST_TIMEOUT_MS: '2000', VITE_SLOW_REQUEST_MS: '5000' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/VITE_API_BASE/);
    expect(msg).toMatch(/VITE_POLL_FAST_MS must be a whole number/);
    expect(msg).toMatch(/VITE_REQUEST_TIMEOUT_MS must be longer than VITE_SLOW_REQUEST_MS/);
  });
});
