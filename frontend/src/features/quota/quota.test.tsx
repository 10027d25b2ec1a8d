import { act, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseRateLimit, parseRateLimitPolicy } from '@/api/rate-limit-headers';
import { stubFetch } from '@/testing/fetch-stub';
import { renderWithQuery } from '@/testing/render';
import { QuotaBar } from './components/quota-bar';
import { summarize, withHeaders, withPolicies } from './policies';

describe('RateLimit headers (IETF httpapi draft)', () => {
  it('parses RateLimit-Policy and RateLimit lists', () => {
    expect(parseRateLimitPolicy('"creates_per_address";q=5;w=3600, "live_per_owner";q=3')).toEqual([
      { name: 'creates_per_address', quota: 5, window: 3600 },
      { name: 'live_per_owner', quota: 3, window: undefined },
    ]);
    expect(parseRateLimit('"creates_per_address";r=3;t=1200')).toEqual([{ name: 'creates_per_address', remaining: 3, reset: 1200 }]);
    expect(parseRateLimit('"a,b";r=1;t=2')).toEqual([{ name: 'a,b', remaining: 1, reset: 2 }]);
    expect(parseRateLimit(null)).toEqual([]);
    expect(parseRateLimit('"x";r=abc')).toEqual([{ name: 'x', remaining: undefined, reset: undefined }]);
  });

  it('headers from any response update the quota', () => {
    const known = withPolicies(
      {},
      [{ name: 'creates_per_address', limit: 5, remaining: 3, reset: 1200, window: 3600, scope: 'address', description: '' }],
      0,
    );
    const next = withHeaders(known, new Headers({ 'RateLimit-Policy': '"creates_per_address";q=5;w=3600', RateLimit: '"creates_per_address";r=2;t=1100' }), 1000);
    expect(next?.creates_per_address).toMatchObject({ limit: 5, remaining: 2, resetAt: 1000 + 1_100_000 });
    expect(withHeaders(known, new Headers({ 'Content-Type': 'application/json' }), 1000)).toBeNull();
  });

  it('live count uses the tighter of the address and owner limits', () => {
    const s = summarize({
      live_per_address: { name: 'live_per_address', limit: 3, remaining: 2 },
      live_per_owner: { name: 'live_per_owner', limit: 3, remaining: 1 },
    });
    expect(s.live?.name).toBe('live_per_owner');
  });
});

describe('QuotaBar', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1));
  });
  afterEach(() => vi.useRealTimers());

  it('shows creates left, live containers and a countdown to reset from GET /rate-limit', async () => {
    stubFetch({
      status: 200,
      body: {
        policies: [
          { name: 'creates_per_address', limit: 5, remaining: 3, reset: 1194, window: 3600, scope: 'address', description: '' },
          { name: 'live_per_address', limit: 3, remaining: 2, reset: 0, window: 0, scope: 'address', description: '' },
          { name: 'live_per_owner', limit: 3, remaining: 2, reset: 0, window: 0, scope: 'owner', description: '' },
          { name: 'challenges_per_address', limit: 20, remaining: 19, reset: 30, window: 60, scope: 'address', description: '' },
        ],
      },
    });
    renderWithQuery(<QuotaBar />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(screen.getByLabelText('3 of 5 creates left this hour')).toBeInTheDocument();
    expect(screen.getByLabelText('1 of 3 live containers')).toBeInTheDocument();
    expect(screen.getByLabelText('Create quota resets in 19:54')).toBeInTheDocument();
    act(() => {
      vi.advanceTimersByTime(2000);
    });
    expect(screen.getByLabelText('Create quota resets in 19:52')).toBeInTheDocument();
  });
});
