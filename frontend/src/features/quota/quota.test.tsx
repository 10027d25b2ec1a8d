import { act, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseRateLimit, parseRateLimitPolicy } from '@/api/rate-limit-headers';
import { stubFetch } from '@/testing/fetch-stub';
import { renderWithQuery } from '@/testing/render';
import { QuotaBar } from './components/quota-bar';
import { QuotaPanel } from './components/quota-panel';
import { blockerOf, resetIn, summarize, withHeaders, withPolicies } from './policies';
import { refusalWords } from './words';

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

  it('the chips show the tightest of each kind: creates per address or network, live per browser, address or network', () => {
    const s = summarize({
      creates_per_address: { name: 'creates_per_address', limit: 5, remaining: 4, scope: 'address' },
      creates_per_network: { name: 'creates_per_network', limit: 30, remaining: 2, scope: 'network' },
      live_per_address: { name: 'live_per_address', limit: 3, remaining: 2, scope: 'address' },
      live_per_owner: { name: 'live_per_owner', limit: 3, remaining: 1, scope: 'owner' },
      live_per_network: { name: 'live_per_network', limit: 20, remaining: 5, scope: 'network' },
    });
    expect(s.creates?.name).toBe('creates_per_network');
    expect(s.live?.name).toBe('live_per_owner');
    expect(s.blocker).toBeUndefined();
  });
});

describe('Which limit refuses a create, and when it opens', () => {
  const T = Date.UTC(2026, 0, 1, 21, 0, 0);
  it('of the closed limits, the one that opens last; a window whose reset passed is open again', () => {
    const policies = {
      creates_per_address: { name: 'creates_per_address', limit: 5, remaining: 0, window: 3600, resetAt: T + 600_000, scope: 'address' as const },
      live_per_network: { name: 'live_per_network', limit: 20, remaining: 0, window: null, resetAt: T + 1_800_000, scope: 'network' as const },
      challenges_per_address: { name: 'challenges_per_address', limit: 20, remaining: 0, window: 60, resetAt: T - 1000, scope: 'address' as const },
      pow_creates_per_address: { name: 'pow_creates_per_address', limit: 2, remaining: 0, window: 3600, resetAt: T + 3_000_000 },
    };
    // The proof-of-work-only limit refuses that path only; the challenge window is over.
    expect(blockerOf(policies, T)?.name).toBe('live_per_network');
    expect(blockerOf(policies, T, ['pow_creates_per_address'])?.name).toBe('pow_creates_per_address');
    expect(blockerOf({ ...policies, live_per_network: { ...policies.live_per_network, remaining: 1 } }, T)?.name).toBe('creates_per_address');
    expect(blockerOf({}, T)).toBeUndefined();
  });

  it('"frees in" is never longer than the window, even when the server rounds up just after the first create', () => {
    const p = { name: 'creates_per_address', limit: 5, remaining: 4, window: 3600 };
    expect(resetIn({ ...p, resetAt: T + 3_601_000 }, T)).toBe(3600);
    expect(resetIn({ ...p, resetAt: T + 1_194_000 }, T)).toBe(1194);
    expect(resetIn({ ...p, resetAt: T - 1 }, T)).toBeNull();
    expect(resetIn({ name: 'live_per_owner', limit: 3, remaining: 2, window: null, resetAt: T + 7_200_000 }, T)).toBe(7200);
  });

  it('the places in the waiting line refuse a create only while Sprout is full (else it starts at once)', () => {
    const places = { name: 'places_per_address', limit: 1, remaining: 0, window: null, resetAt: T + 900_000, scope: 'address' as const };
    const capacity = (remaining: number) => ({ name: 'capacity', limit: 10, remaining, window: null, scope: 'global' as const });
    expect(blockerOf({ places_per_address: places, capacity: capacity(2) }, T)).toBeUndefined();
    expect(blockerOf({ places_per_address: places, capacity: capacity(0) }, T)?.name).toBe('places_per_address');
    const words = refusalWords(places, T);
    expect(words.button).toMatch(/^Your address's places in line are taken — opens by /);
    expect(words.shown).toBe('Sprout is full, and your address may hold 1 place in its waiting line. One ends in 15:00 at the latest.');
  });

  it('each limit in its own words: what it is, whose, when it opens; the ticking clock is not in what is heard', () => {
    const at = (ms: number) => new Date(T + ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    const hourly = refusalWords({ name: 'creates_per_address', limit: 5, remaining: 0, window: 3600, resetAt: T + 720_000 }, T);
    expect(hourly.button).toBe(`Hourly limit reached — opens at ${at(720_000)}`);
    expect(hourly.shown).toBe('Your address may start 5 containers an hour. Opens in 12:00.');
    expect(hourly.announced).toBe(`Hourly limit reached. Your address may start 5 containers an hour. It opens again at ${at(720_000)}.`);
    const network = refusalWords({ name: 'live_per_network', limit: 10, remaining: 0, window: null, resetAt: T + 60_000 }, T);
    expect(network.button).toBe(`Your network's live limit reached — opens by ${at(60_000)}`);
    expect(network.shown).toBe('Your network may have 10 containers at once, other people’s included. One ends in 1:00 at the latest.');
    const mine = refusalWords({ name: 'live_per_owner', limit: 3, remaining: 0, window: null }, T);
    expect(mine.button).toBe('Live limit reached — opens when one is deleted');
    expect(mine.shown).toBe('You may have 3 containers at once. Delete one to start another.');
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
    expect(screen.getByLabelText('3 of 5 creates left this hour from your address')).toBeInTheDocument();
    expect(screen.getByLabelText('1 of 3 live in this browser')).toBeInTheDocument();
    expect(screen.getByLabelText('The next create frees in 19:54')).toBeInTheDocument();
    act(() => {
      vi.advanceTimersByTime(2000);
    });
    expect(screen.getByLabelText('The next create frees in 19:52')).toBeInTheDocument();
  });

  it('a closed limit\'s chip keeps whose count it is and adds when it opens', async () => {
    stubFetch({
      status: 200,
      body: {
        policies: [
          { name: 'creates_per_address', limit: 5, remaining: 3, reset: 100, window: 3600, scope: 'address', description: '' },
          { name: 'live_per_owner', limit: 3, remaining: 2, reset: 0, window: null, scope: 'owner', description: '' },
          { name: 'live_per_network', limit: 10, remaining: 0, reset: 600, window: null, scope: 'network', description: '' },
        ],
        others: [],
      },
    });
    renderWithQuery(<QuotaBar />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    const at = new Date(Date.now() + 600_000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    expect(screen.getByLabelText(`10 of 10 live on your network, opens by ${at}`)).toHaveTextContent(`10/10 live· networkyour network· opens ${at}`);
  });
});

describe('QuotaPanel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1, 21, 0, 0));
  });
  afterEach(() => vi.useRealTimers());

  it('every limit under whose it is, "4 of 10 live on your network", and others\' containers as a count with their end times', async () => {
    const now = Date.now() / 1000;
    stubFetch({
      status: 200,
      body: {
        policies: [
          { name: 'creates_per_address', limit: 5, remaining: 3, reset: 1194, window: 3600, scope: 'address', description: '' },
          { name: 'live_per_address', limit: 3, remaining: 1, reset: 900, window: null, scope: 'address', description: '' },
          { name: 'live_per_owner', limit: 3, remaining: 2, reset: 900, window: null, scope: 'owner', description: '' },
          { name: 'creates_per_network', limit: 30, remaining: 26, reset: 1194, window: 3600, scope: 'network', description: '' },
          { name: 'live_per_network', limit: 10, remaining: 6, reset: 900, window: null, scope: 'network', description: '' },
          { name: 'capacity', limit: 100, remaining: 63, reset: 0, window: null, scope: 'global', description: '' },
        ],
        others: [
          { scope: 'address', expires_at: now + 900 },
          { scope: 'network', expires_at: now + 1200 },
          { scope: 'network', expires_at: now + 2400 },
        ],
      },
    });
    renderWithQuery(<QuotaPanel />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(screen.getByRole('region', { name: 'This browser' })).toHaveTextContent('Live1 of 3');
    expect(screen.getByLabelText('2 of 3 live from your address, 1 not in this browser')).toBeInTheDocument();
    expect(screen.getByLabelText('4 of 10 live on your network')).toBeInTheDocument();
    expect(screen.getByLabelText('4 of 30 new this hour on your network')).toBeInTheDocument();
    expect(screen.getByLabelText('37 of 100 running on Sprout')).toBeInTheDocument();
    const others = screen.getByRole('region', { name: /Not in this browser/ });
    expect(others).toHaveTextContent('Not in this browser: 3 live');
    const time = (s: number) => new Date((now + s) * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    expect(within(screen.getByRole('list', { name: '1 from your address' })).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      `ends ${time(900)} · 15:00`,
    ]);
    expect(within(screen.getByRole('list', { name: '2 from your network' })).getAllByRole('listitem')).toHaveLength(2);
  });
});
