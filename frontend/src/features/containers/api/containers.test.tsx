import { act, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Container } from '@/api/types';
import { Toaster } from '@/components/notifications/toaster';
import { config } from '@/config/env';
import { makeContainer, NOW, templates } from '@/testing/fixtures';
import { routeFetch, stubFetch, type StubResponse } from '@/testing/fetch-stub';
import { renderWithQuery } from '@/testing/render';
import { ContainerList } from '../components/container-list';
import { createContainer, listContainers, useContainers } from './containers';
import { useDeleteContainer } from './mutations';

describe('listContainers (ETag / 304)', () => {
  it('sends If-None-Match with the last ETag and maps 304 to "unchanged"', async () => {
    const c = makeContainer();
    const { requests } = stubFetch(
      { status: 200, body: { containers: [c] }, headers: { ETag: '"abc"' } },
      { status: 304, headers: { ETag: '"abc"' } },
    );
    const first = await listContainers(null);
    expect(first).toEqual({ changed: true, etag: '"abc"', containers: [c] });
    expect(requests[0].headers['If-None-Match']).toBeUndefined();

    const second = await listContainers('"abc"');
    expect(second).toEqual({ changed: false, etag: '"abc"' });
    expect(requests[1]).toMatchObject({ url: '/containers', method: 'GET' });
    expect(requests[1].headers['If-None-Match']).toBe('"abc"');
  });

  it('keeps the old ETag if a 304 does not repeat it', async () => {
    stubFetch({ status: 304 });
    expect(await listContainers('"x"')).toEqual({ changed: false, etag: '"x"' });
  });
});

describe('createContainer', () => {
  it('posts the template and the pass token with same-origin credentials', async () => {
    const c = makeContainer({ id: 'new' });
    const { fn, requests } = stubFetch({ status: 202, body: c, headers: { Location: '/containers/new' } });
    expect(await createContainer('nginx', 'tok')).toEqual(c);
    expect(requests[0]).toMatchObject({ url: '/containers', method: 'POST', body: { template: 'nginx', captcha_token: 'tok' } });
    expect(fn.mock.calls[0][1]).toMatchObject({ credentials: 'same-origin' });
  });
});

/**
 * The list on the page, polled: the real hook and the real list, a fake clock, and a server that
 * answers GET /containers from a script (and DELETE with the record going away).
 */
function Page() {
  const containers = useContainers();
  const remove = useDeleteContainer();
  return (
    <>
      <ContainerList containers={containers} templates={templates} onDelete={(c) => remove.mutate(c.id)} />
      <Toaster />
    </>
  );
}

type ListAnswer = StubResponse | Error | Promise<StubResponse>;

function server(answers: ListAnswer[]) {
  const stub = routeFetch((req) => {
    if (req.url === '/containers' && req.method === 'GET') {
      const next = answers.shift();
      if (!next) throw new Error('no more list answers');
      return next;
    }
    if (req.method === 'DELETE') {
      const id = req.url.split('/').pop()!;
      return { status: 202, body: makeContainer({ id, state: 'deleting', phase: null }) };
    }
    return undefined;
  });
  const lists = () => stub.requests.filter((r) => r.url === '/containers' && r.method === 'GET');
  return { ...stub, lists };
}

const list = (etag: string, ...containers: Container[]): StubResponse => ({ status: 200, body: { containers }, headers: { ETag: etag } });
const unchanged = (etag: string): StubResponse => ({ status: 304, headers: { ETag: etag } });
const pending = makeContainer({ id: 'c-a', state: 'pending' });
const running = makeContainer({ id: 'c-a', state: 'running', phase: null, url: 'https://c-a.example' });

/**
 * Advance the fake clock, then let what that started land and render without moving it further:
 * reading a response body takes turns of the real event loop, which the fake clock does not see.
 */
const tick = (ms: number) =>
  act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
    for (let turn = 0; turn < 5; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      await vi.advanceTimersByTimeAsync(0);
    }
  });

/** Until `check` passes, on the fake clock a millisecond at a time (at most 50): an answer takes a moment to land. */
async function eventually(check: () => void) {
  for (let waited = 0; ; waited++) {
    try {
      return check();
    } catch (error) {
      if (waited >= 50) throw error;
    }
    await tick(1);
  }
}

function setVisibility(state: 'visible' | 'hidden') {
  Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
  window.dispatchEvent(new Event('visibilitychange'));
}

describe('the container list on TanStack Query', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(NOW * 1000);
  });
  afterEach(() => {
    setVisibility('visible');
    window.dispatchEvent(new Event('online'));
    vi.useRealTimers();
  });

  it('sends the last ETag, and a 304 keeps what is shown', async () => {
    const { lists } = server([list('"v1"', running), unchanged('"v1"'), list('"v2"')]);
    renderWithQuery(<Page />);
    await tick(0);
    const shown = screen.getByTestId('container-c-a');
    expect(lists().map((r) => r.headers['If-None-Match'])).toEqual([undefined]);

    await tick(config.pollSlowMs); // slow: nothing moves
    expect(lists().map((r) => r.headers['If-None-Match'])).toEqual([undefined, '"v1"']);
    expect(screen.getByTestId('container-c-a')).toBe(shown); // the 304 changed nothing

    await tick(config.pollSlowMs);
    expect(lists().map((r) => r.headers['If-None-Match'])).toEqual([undefined, '"v1"', '"v1"']);
    await eventually(() => expect(screen.getByText('No containers yet')).toBeInTheDocument());
  });

  it('polls every half second while something is pending, slowly once it runs', async () => {
    expect(config.pollFastMs).toBeLessThanOrEqual(500);
    const { lists } = server([list('"1"', pending), unchanged('"1"'), list('"2"', running), unchanged('"2"')]);
    renderWithQuery(<Page />);
    await tick(0);
    expect(lists()).toHaveLength(1);
    await tick(config.pollFastMs - 1);
    expect(lists()).toHaveLength(1);
    await tick(1);
    expect(lists()).toHaveLength(2);
    await tick(config.pollFastMs);
    expect(lists()).toHaveLength(3);
    await eventually(() => expect(within(screen.getByTestId('container-c-a')).getByText('Running')).toBeInTheDocument());
    // The slow interval counts from the answer's landing, a moment after the request.
    await tick(config.pollSlowMs - 100);
    expect(lists()).toHaveLength(3);
    await tick(100);
    expect(lists()).toHaveLength(4);
  });

  it('pauses while the page is hidden or offline, and polls at once when it comes back', async () => {
    const { lists } = server([list('"1"', pending), unchanged('"1"'), unchanged('"1"')]);
    renderWithQuery(<Page />);
    await tick(0);
    setVisibility('hidden');
    await tick(60_000);
    expect(lists()).toHaveLength(1);
    setVisibility('visible');
    await tick(0);
    expect(lists()).toHaveLength(2);

    window.dispatchEvent(new Event('offline'));
    await tick(60_000);
    expect(lists()).toHaveLength(2);
    window.dispatchEvent(new Event('online'));
    await tick(0);
    expect(lists()).toHaveLength(3);
  });

  it('backs off on errors, reports them from the second, and clears the report once it recovers', async () => {
    const down = new TypeError('Failed to fetch');
    const { lists } = server([down, down, list('"1"')]);
    renderWithQuery(<Page />);
    await tick(2 * config.pollFastMs - 1);
    expect(lists()).toHaveLength(1);
    expect(screen.queryByText("Can't reach Sprout")).not.toBeInTheDocument(); // one failure is noise
    await tick(1);
    expect(lists()).toHaveLength(2);
    await tick(4 * config.pollFastMs - 1);
    expect(lists()).toHaveLength(2); // the wait doubled
    expect(screen.getByText("Can't reach Sprout")).toBeInTheDocument();
    await tick(1);
    expect(lists()).toHaveLength(3);
    await tick(10); // DBG
    expect(screen.getByText('No containers yet')).toBeInTheDocument();
    expect(screen.queryByText("Can't reach Sprout")).not.toBeInTheDocument();
    expect(lists()).toHaveLength(3);
  });

  it('a delete abandons the poll in flight, so its stale answer never overwrites the new record', async () => {
    let answerStale!: (r: StubResponse) => void;
    const stale = new Promise<StubResponse>((resolve) => (answerStale = resolve));
    const { lists } = server([list('"1"', running), stale, list('"2"', { ...running, state: 'deleting' })]);
    renderWithQuery(<Page />);
    await tick(0);
    await tick(config.pollSlowMs);
    expect(lists()).toHaveLength(2);
    expect(lists()[1].signal?.aborted).toBe(false);

    fireEvent.click(screen.getByRole('button', { name: 'Delete container c-a' }));
    await tick(0);
    expect(lists()[1].signal?.aborted).toBe(true);
    expect(lists()).toHaveLength(3);
    expect(lists()[2].headers['If-None-Match']).toBeUndefined(); // the full list, not a 304
    answerStale(list('"old"', running));
    await tick(0);
    expect(within(screen.getByTestId('container-c-a')).getByText('Deleting')).toBeInTheDocument();
  });

  it('stops polling when the page goes away', async () => {
    const { lists } = server([list('"1"', pending)]);
    const { unmount } = renderWithQuery(<Page />);
    await tick(0);
    unmount();
    await tick(60_000);
    expect(lists()).toHaveLength(1);
  });
});
