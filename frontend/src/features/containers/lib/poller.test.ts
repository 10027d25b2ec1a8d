import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '@/api/errors';
import { makeContainer } from '@/testing/fixtures';
import type { ListResult } from '../api/containers';
import { createPoller } from './poller';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function setup(responses: (ListResult | Error | (() => Promise<ListResult>))[], paused = { value: false }) {
  const calls: (string | null)[] = [];
  const fetchList = vi.fn(async (etag: string | null, _signal: AbortSignal) => {
    calls.push(etag);
    const next = responses.shift();
    if (!next) throw new Error('no more responses');
    if (next instanceof Error) throw next;
    if (typeof next === 'function') return next();
    return next;
  });
  const onData = vi.fn();
  const onError = vi.fn();
  const onRecovered = vi.fn();
  const poller = createPoller({ fetchList, onData, onError, onRecovered, fastMs: 1000, slowMs: 8000, isPaused: () => paused.value });
  return { poller, fetchList, calls, onData, onError, onRecovered, paused };
}

const pending = makeContainer({ id: 'a', state: 'pending' });
const running = makeContainer({ id: 'a', state: 'running', url: 'https://a' });

describe('container poller', () => {
  it('sends the last ETag, and a 304 changes nothing', async () => {
    const { poller, calls, onData } = setup([
      { changed: true, etag: '"v1"', containers: [running] },
      { changed: false, etag: '"v1"' },
      { changed: true, etag: '"v2"', containers: [] },
    ]);
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([null]);
    expect(onData).toHaveBeenCalledTimes(1);
    expect(onData).toHaveBeenLastCalledWith([running]);

    await vi.advanceTimersByTimeAsync(8000); // slow: nothing pending
    expect(calls).toEqual([null, '"v1"']);
    expect(onData).toHaveBeenCalledTimes(1); // 304: no new data

    await vi.advanceTimersByTimeAsync(8000);
    expect(calls).toEqual([null, '"v1"', '"v1"']);
    expect(onData).toHaveBeenLastCalledWith([]);
    expect(poller.etag).toBe('"v2"');
    poller.stop();
  });

  it('polls about every second while something is pending, slower once settled', async () => {
    const { poller, fetchList } = setup([
      { changed: true, etag: '"1"', containers: [pending] },
      { changed: false, etag: '"1"' },
      { changed: true, etag: '"2"', containers: [running] },
      { changed: false, etag: '"2"' },
    ]);
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchList).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(fetchList).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchList).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fetchList).toHaveBeenCalledTimes(3); // now running
    await vi.advanceTimersByTimeAsync(7999);
    expect(fetchList).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchList).toHaveBeenCalledTimes(4);
    poller.stop();
  });

  it('pauses while the page is hidden and polls at once when it comes back', async () => {
    const paused = { value: false };
    const { poller, fetchList } = setup(
      [
        { changed: true, etag: '"1"', containers: [pending] },
        { changed: false, etag: '"1"' },
      ],
      paused,
    );
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    paused.value = true;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetchList).toHaveBeenCalledTimes(1);
    paused.value = false;
    poller.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchList).toHaveBeenCalledTimes(2);
    poller.stop();
  });

  it('backs off on errors, reports them, and says when it recovered', async () => {
    const offline = new ApiError({ kind: 'network', code: 'network', message: 'down' });
    const { poller, fetchList, onError, onRecovered } = setup([
      offline,
      offline,
      { changed: true, etag: '"1"', containers: [] },
    ]);
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(onError).toHaveBeenLastCalledWith(offline, 1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(fetchList).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchList).toHaveBeenCalledTimes(2);
    expect(onError).toHaveBeenLastCalledWith(offline, 2);
    await vi.advanceTimersByTimeAsync(4000);
    expect(fetchList).toHaveBeenCalledTimes(3);
    expect(onRecovered).toHaveBeenCalledTimes(1);
    poller.stop();
  });

  it('refresh abandons a poll in flight, so a stale answer never overwrites a newer one', async () => {
    let resolveStale!: (r: ListResult) => void;
    const stale = () => new Promise<ListResult>((r) => (resolveStale = r));
    const { poller, fetchList, onData, calls } = setup([stale, { changed: true, etag: '"new"', containers: [pending] }]);
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchList.mock.calls[0][1].aborted).toBe(false);
    poller.refresh({ forgetEtag: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchList.mock.calls[0][1].aborted).toBe(true);
    resolveStale({ changed: true, etag: '"old"', containers: [] });
    await vi.advanceTimersByTimeAsync(0);
    expect(onData).toHaveBeenCalledTimes(1);
    expect(onData).toHaveBeenCalledWith([pending]);
    expect(calls).toEqual([null, null]);
    expect(poller.etag).toBe('"new"');
    poller.stop();
  });

  it('stops cleanly', async () => {
    const { poller, fetchList } = setup([{ changed: true, etag: null, containers: [pending] }]);
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    poller.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetchList).toHaveBeenCalledTimes(1);
  });
});
