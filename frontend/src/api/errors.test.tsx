import { act, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Toaster } from '@/components/notifications/toaster';
import { networkStore } from '@/stores/network';
import { NetworkBanner } from '@/components/network/network-banner';
import { stubFetch } from '@/testing/fetch-stub';
import { request } from './client';
import { ApiError, describeError, parseRetryAfter } from './errors';

const T0 = Date.UTC(2026, 10, 27, 14, 0, 0);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => vi.useRealTimers());

/** Make a request that fails, with the real client, and render what the visitor sees. */
async function failAndRender(...responses: Parameters<typeof stubFetch>) {
  stubFetch(...responses);
  render(<Toaster />);
  let error: unknown;
  await act(async () => {
    await request('/containers', { method: 'POST', body: { template: 'nginx', captcha_token: 't' } }).catch((e) => (error = e));
  });
  return { error: error as ApiError, toast: () => screen.getAllByTestId('toast').at(-1)! };
}

describe('API errors reach the visitor through one notification path', () => {
  it('429 rate_limited: which limit by its name, the rest in the server\'s words, no countdown of its own', async () => {
    const { error, toast } = await failAndRender({
      status: 429,
      headers: { 'Retry-After': '1194' },
      body: {
        error: {
          code: 'rate_limited',
          message: 'Hourly limit reached: 5 new containers an hour from your address. It opens again in 20 minutes.',
          details: { policy: 'creates_per_address', retry_after: 1194 },
        },
      },
    });
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ kind: 'http', status: 429, code: 'rate_limited', retryAfter: 1194 });
    const t = within(toast());
    expect(t.getByText('Hourly limit reached')).toBeInTheDocument();
    // The title is not said twice; the Create button and the quota say when it opens.
    expect(t.getByText('5 new containers an hour from your address. It opens again in 20 minutes.')).toBeInTheDocument();
    expect(t.queryByText(/Retry in/)).toBeNull();
  });

  it('429: each policy has its own title; an unknown one or none reads "Limit reached"', () => {
    const refusal = (policy?: string) =>
      describeError(
        new ApiError({ kind: 'http', status: 429, code: 'rate_limited', message: 'm', details: policy ? { policy } : undefined, retryAfter: 60 }),
      ).title;
    expect(refusal('creates_per_network')).toBe("Your network's hourly limit reached");
    expect(refusal('live_per_owner')).toBe('Live limit reached');
    expect(refusal('live_per_network')).toBe("Your network's live limit reached");
    expect(refusal('network_share')).toBe("Your network's share is in use");
    expect(refusal('pow_creates_per_address')).toBe('Limit without the puzzle reached');
    expect(refusal('challenges_per_address')).toBe('Too many puzzles');
    expect(refusal('places_per_address')).toBe("Your address's places in line are taken");
    expect(refusal('places_per_network')).toBe("Your network's places in line are taken");
    expect(refusal('something_new')).toBe('Limit reached');
    expect(refusal()).toBe('Limit reached');
  });

  it('429 without details falls back to the Retry-After header (seconds or HTTP date)', async () => {
    const { error } = await failAndRender({
      status: 429,
      headers: { 'Retry-After': new Date(T0 + 90_000).toUTCString() },
      body: { error: { code: 'rate_limited', message: '' } },
    });
    expect(error.retryAfter).toBe(90);
    expect(screen.getByText('Try again in 90 seconds.')).toBeInTheDocument();
  });

  it('503 capacity_full: Sprout is full, try later', async () => {
    const { error, toast } = await failAndRender({
      status: 503,
      headers: { 'Retry-After': '45' },
      body: { error: { code: 'capacity_full', message: 'All slots in use', details: { retry_after: 45 } } },
    });
    expect(error.code).toBe('capacity_full');
    const t = within(toast());
    expect(t.getByText('Sprout is full right now')).toBeInTheDocument();
    expect(t.getByText(/Try again in 45 seconds/)).toBeInTheDocument();
    expect(t.getByText(/Retry in/)).toHaveTextContent('Retry in 0:45');
  });

  it('422 invalid_field: names the field', async () => {
    const { error, toast } = await failAndRender({
      status: 422,
      body: { error: { code: 'invalid_field', message: 'unknown template "foo"', details: { field: 'template' } } },
    });
    expect(error.status).toBe(422);
    const t = within(toast());
    expect(t.getByText('Invalid template')).toBeInTheDocument();
    expect(t.getByText('The server rejected the field “template”: unknown template "foo"')).toBeInTheDocument();
  });

  it('offline: a network failure says so, in the toast and the banner', async () => {
    vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    networkStore.set((s) => ({ ...s, online: false }));
    render(<NetworkBanner />);
    const { error, toast } = await failAndRender(new TypeError('Failed to fetch'));
    expect(error).toMatchObject({ kind: 'network', code: 'network' });
    expect(within(toast()).getByText("Can't reach Sprout")).toBeInTheDocument();
    expect(within(toast()).getByText(/You are offline/)).toBeInTheDocument();
    expect(screen.getByText(/You're offline\. What you see is the last known state/)).toBeInTheDocument();
  });

  it('a server that is up but unreachable shows the retrying banner until a request succeeds', async () => {
    render(<NetworkBanner />);
    await failAndRender(new TypeError('Failed to fetch'));
    expect(screen.getByText(/Can't reach Sprout right now/)).toBeInTheDocument();
    stubFetch({ status: 200, body: { containers: [] } });
    await act(async () => {
      await request('/containers');
    });
    expect(screen.queryByText(/Can't reach Sprout right now/)).not.toBeInTheDocument();
  });

  it('a slow request shows the "taking longer" hint, and a hung one times out with a message', async () => {
    let release!: () => void;
    vi.stubGlobal(
      'fetch',
      vi.fn(
        (_u: string, init: RequestInit) =>
          new Promise((_res, rej) => {
            release = () => rej(new DOMException('aborted', 'AbortError'));
            init.signal?.addEventListener('abort', () => release());
          }),
      ),
    );
    render(
      <>
        <NetworkBanner />
        <Toaster />
      </>,
    );
    let error: unknown;
    const p = request('/rate-limit').catch((e) => (error = e));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(3500);
    });
    expect(screen.getByText(/taking longer than usual/)).toBeInTheDocument();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(20_000);
      await p;
    });
    expect(error).toMatchObject({ kind: 'timeout' });
    expect(screen.getByText('Sprout is slow to answer')).toBeInTheDocument();
    expect(screen.queryByText(/taking longer than usual/)).not.toBeInTheDocument();
  });

  it('a non-JSON 502 from a proxy still becomes a readable error', async () => {
    const { error, toast } = await failAndRender({ status: 502, text: '<html>Bad Gateway</html>', headers: { 'Content-Type': 'text/html' } });
    expect(error).toMatchObject({ status: 502, code: 'bad_gateway' });
    expect(within(toast()).getByText('Sprout had a problem')).toBeInTheDocument();
    expect(within(toast()).getByText(/HTTP 502/)).toBeInTheDocument();
  });

  it('the same error key replaces, not stacks', async () => {
    render(<Toaster />);
    for (let i = 0; i < 3; i++) {
      stubFetch({ status: 503, body: { error: { code: 'capacity_full', message: 'full' } } });
      await act(async () => {
        await request('/containers', { method: 'POST', body: {} }).catch(() => undefined);
      });
    }
    expect(screen.getAllByText('Sprout is full right now')).toHaveLength(1);
  });

  it('callers that render errors themselves are not double-reported', async () => {
    stubFetch({ status: 403, body: { error: { code: 'captcha_failed', message: 'no' } } });
    render(<Toaster />);
    await act(async () => {
      await request('/captcha/verify', { method: 'POST', body: {}, notify: false }).catch(() => undefined);
    });
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
  });
});

describe('describeError / parseRetryAfter', () => {
  it('parses both forms of Retry-After', () => {
    expect(parseRetryAfter('120', T0)).toBe(120);
    expect(parseRetryAfter(new Date(T0 + 61_000).toUTCString(), T0)).toBe(61);
    expect(parseRetryAfter('soon', T0)).toBeNull();
    expect(parseRetryAfter(null, T0)).toBeNull();
  });

  it('names the field from a list-shaped 422 body too', () => {
    const e = new ApiError({ kind: 'http', status: 422, code: 'invalid_field', message: 'bad', details: [{ loc: ['body', 'captcha_token'] }] });
    expect(describeError(e).title).toBe('Invalid captcha token');
  });

  it('an expired pass asks for a new puzzle', () => {
    const e = new ApiError({ kind: 'http', status: 403, code: 'captcha_invalid', message: 'x' });
    expect(describeError(e).message).toMatch(/Solve a new puzzle/);
  });
});
