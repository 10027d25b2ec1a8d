import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRoot } from 'react-dom/client';
import { describe, expect, it } from 'vitest';
import { createQueryClient } from '@/lib/query-client';
import type { Container } from '@/api/types';
import { makeChallenge, makeContainer, templates } from '@/testing/fixtures';
import { routeFetch, type StubResponse } from '@/testing/fetch-stub';
import { renderWithQuery } from '@/testing/render';
import { App } from './app';
import { prefetchFirstScreen } from './first-screen';
import { AppProvider } from './provider';

/** The body of index.html as the browser gets it, without its script. */
function staticPage(): string {
  const html = readFileSync(resolve(__dirname, '../../index.html'), 'utf8');
  return html.slice(html.indexOf('<body'), html.indexOf('</body>')).replace(/^<body[^>]*>/, '').replace(/<script[\s\S]*?<\/script>/g, '');
}

function backend(opts: { create?: StubResponse } = {}) {
  const now = Date.now() / 1000;
  let list: Container[] = [];
  let version = 0;
  const policies = (remaining: number) => ({
    policies: [
      { name: 'creates_per_address', limit: 5, remaining, reset: 600, window: 3600, scope: 'address', description: '' },
      { name: 'live_per_owner', limit: 3, remaining: 3 - list.filter((c) => c.state !== 'deleted').length, reset: 0, window: 0, scope: 'owner', description: '' },
    ],
  });
  return routeFetch((req) => {
    const path = req.url;
    if (path === '/containers/templates') return { status: 200, body: { templates, lifetime: 5400, cluster: { simulated: true } } };
    if (path === '/rate-limit') return { status: 200, body: policies(5 - version) };
    if (path === '/captcha/request') return { status: 200, body: makeChallenge({ pow: { salt: 'app', difficulty: 4 } }) };
    if (path === '/captcha/verify') return { status: 200, body: { token: 'pass-xyz', expires_at: now + 120 } };
    if (path === '/containers' && req.method === 'GET') {
      const etag = `"v${version}"`;
      if (req.headers['If-None-Match'] === etag) return { status: 304, headers: { ETag: etag } };
      return { status: 200, body: { containers: list }, headers: { ETag: etag } };
    }
    if (path === '/containers' && req.method === 'POST') {
      if (opts.create) return opts.create;
      const c = makeContainer({ id: 'c-new', template: 'python', state: 'pending', phase: 'queued', created_at: now, expires_at: now + 3600 });
      list = [c];
      version++;
      return { status: 202, body: c, headers: { Location: '/containers/c-new', RateLimit: '"creates_per_address";r=4;t=600' } };
    }
    if (path === '/containers/c-new' && req.method === 'DELETE') {
      list = list.map((c) => ({ ...c, state: 'deleting' as const }));
      version++;
      return { status: 202, body: list[0] };
    }
    return undefined;
  });
}

describe('App: the whole create flow against the API contract', () => {
  it('pick a template, solve the puzzle with the keyboard, see the container pending, delete it', async () => {
    const { requests } = backend();
    renderWithQuery(<App />);
    expect(await screen.findByText('No containers yet')).toBeInTheDocument();
    expect(screen.getByText('Simulated cluster')).toBeInTheDocument();
    expect(await screen.findByText(/Each container lives 1 hour 30 minutes, then it is deleted/)).toBeInTheDocument();

    fireEvent.click(await screen.findByRole('radio', { name: /Python HTTP/ }));
    fireEvent.click(screen.getByRole('button', { name: 'Create Python HTTP' }));
    // The dialog is a chunk loaded on first use: the first import takes a moment.
    const dialog = await screen.findByRole('dialog', { name: 'Quick check' }, { timeout: 10_000 });
    const slider = await within(dialog).findByRole('slider');
    for (let i = 0; i < 5; i++) fireEvent.keyDown(slider, { key: 'PageUp' });
    fireEvent.keyDown(slider, { key: 'ArrowRight' });
    fireEvent.keyDown(slider, { key: 'Enter' });

    const card = await screen.findByTestId('container-c-new', {}, { timeout: 10_000 }); // the cards are a chunk too
    expect(within(card).getByText('Pending')).toBeInTheDocument();
    expect(within(card).getByText('Python HTTP')).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(screen.getByText('Container requested')).toBeInTheDocument();

    const verify = requests.find((r) => r.url === '/captcha/verify')!;
    expect(verify.body).toMatchObject({ challenge_id: 'ch-1', x: 51, input: 'keyboard' });
    const create = requests.find((r) => r.url === '/containers' && r.method === 'POST')!;
    expect(create.body).toEqual({ template: 'python', captcha_token: 'pass-xyz' });
    // the RateLimit header of the create answer updated the header's quota
    await waitFor(() => expect(screen.getByLabelText('4 of 5 creates left this hour from your address')).toBeInTheDocument());

    fireEvent.click(within(card).getByRole('button', { name: 'Delete container c-new' }));
    const confirm = await screen.findByRole('dialog', { name: 'Delete this container?' }, { timeout: 10_000 });
    fireEvent.click(within(confirm).getByRole('button', { name: 'Delete container' }));
    await waitFor(() => expect(within(screen.getByTestId('container-c-new')).getByText('Deleting')).toBeInTheDocument());
    expect(requests.some((r) => r.method === 'DELETE' && r.url === '/containers/c-new')).toBe(true);
  });

  it('a 429 on create is explained in its policy\'s words, and the Create button says which limit and when it opens', async () => {
    backend({
      create: {
        status: 429,
        headers: { 'Retry-After': '300', 'RateLimit-Policy': '"creates_per_address";q=5;w=3600', RateLimit: '"creates_per_address";r=0;t=300' },
        body: {
          error: {
            code: 'rate_limited',
            message: 'Hourly limit reached: 5 new containers an hour from your address. It opens again in 5 minutes.',
            details: { policy: 'creates_per_address', retry_after: 300 },
          },
        },
      },
    });
    renderWithQuery(<App />);
    fireEvent.click(await screen.findByRole('button', { name: 'Create Static web server' }));
    const slider = await within(await screen.findByRole('dialog', {}, { timeout: 10_000 })).findByRole('slider');
    fireEvent.keyDown(slider, { key: 'PageUp' });
    fireEvent.keyDown(slider, { key: 'Enter' });
    const toast = within(await screen.findByTestId('toast'));
    expect(toast.getByText('Hourly limit reached')).toBeInTheDocument();
    expect(toast.getByText('5 new containers an hour from your address. It opens again in 5 minutes.')).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    const create = await screen.findByRole('button', { name: /^Hourly limit reached — opens at / });
    expect(create).toHaveAttribute('aria-disabled', 'true');
    expect(create).toHaveAttribute('aria-describedby', 'create-hint');
    expect(screen.getByText(/^Your address may start 5 containers an hour\. Opens in (4:5\d|5:00)\.$/)).toBeInTheDocument();
    expect(screen.queryByTestId('container-c-new')).not.toBeInTheDocument();
  });

  it('asks the quota again before the puzzle: a limit that closed meanwhile is said, and no puzzle is asked for', async () => {
    const now = Date.now() / 1000;
    let closed = false;
    const { requests } = routeFetch((req) => {
      if (req.url === '/containers/templates') return { status: 200, body: { templates, lifetime: 3600, cluster: { simulated: false } } };
      if (req.url === '/containers') return { status: 200, body: { containers: [] } };
      if (req.url === '/rate-limit')
        return {
          status: 200,
          body: {
            policies: [
              { name: 'live_per_network', limit: 10, remaining: closed ? 0 : 4, reset: 900, window: null, scope: 'network', description: '' },
            ],
            others: closed ? Array.from({ length: 10 }, () => ({ scope: 'network', expires_at: now + 900 })) : [],
          },
        };
      return undefined;
    });
    renderWithQuery(<App />);
    const create = await screen.findByRole('button', { name: 'Create Static web server' });
    closed = true; // a neighbour took the network's last place meanwhile
    fireEvent.click(create);
    expect(await screen.findByRole('button', { name: /^Your network's live limit reached — opens by / })).toBe(create);
    expect(document.getElementById('create-status')).toHaveTextContent(/^Your network's live limit reached\. Your network may have 10 containers at once/);
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(requests.filter((r) => r.url === '/rate-limit')).toHaveLength(2);
    expect(requests.some((r) => r.url === '/captcha/request')).toBe(false);
    fireEvent.click(create); // off: nothing happens, not even a check
    expect(requests.filter((r) => r.url === '/rate-limit')).toHaveLength(2);
  });

  it('asks the quota again when the window regains focus or the tab becomes visible, however fresh it is', async () => {
    const { requests } = backend();
    renderWithQuery(<App />);
    await screen.findByRole('button', { name: 'Create Static web server' });
    const asked = () => requests.filter((r) => r.url === '/rate-limit').length;
    const before = asked();
    act(() => {
      window.dispatchEvent(new Event('focus'));
    });
    await waitFor(() => expect(asked()).toBe(before + 1));
    act(() => {
      window.dispatchEvent(new Event('visibilitychange'));
    });
    await waitFor(() => expect(asked()).toBe(before + 2));
  });

  it('a puzzle refused by a limit closes the dialog rather than leave a puzzle nobody should solve', async () => {
    const now = Date.now() / 1000;
    routeFetch((req) => {
      if (req.url === '/containers/templates') return { status: 200, body: { templates, lifetime: 3600, cluster: { simulated: false } } };
      if (req.url === '/containers') return { status: 200, body: { containers: [] } };
      if (req.url === '/rate-limit') return { status: 200, body: { policies: [], others: [] } };
      if (req.url === '/captcha/request')
        return {
          status: 429,
          headers: { 'Retry-After': '600', 'RateLimit-Policy': '"creates_per_network";q=30;w=3600', RateLimit: '"creates_per_network";r=0;t=600' },
          body: {
            error: {
              code: 'rate_limited',
              message: 'Hourly limit reached for your network: 30 new containers an hour from addresses near yours.',
              details: { policy: 'creates_per_network', retry_after: 600 },
            },
          },
        };
      return undefined;
    });
    renderWithQuery(<App />);
    fireEvent.click(await screen.findByRole('button', { name: 'Create Static web server' }));
    expect(await screen.findByText("Your network's hourly limit reached", {}, { timeout: 10_000 })).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(await screen.findByRole('button', { name: /^Your network's hourly limit reached — opens at / })).toHaveAttribute('aria-disabled', 'true');
    void now;
  });

  it('fills index.html: the first screen in one pass once the three first answers are in, the header slots in place', async () => {
    document.body.innerHTML = staticPage();
    const header = document.querySelector('header')!;
    expect(within(header).getByText('A short-lived container on Kubernetes in seconds. No account.')).toBeInTheDocument();
    expect(within(header).getByLabelText('Your quota (loading)')).toBeInTheDocument();
    const { requests } = backend();
    const client = createQueryClient();
    await prefetchFirstScreen(client, 10_000);
    expect(requests.map((r) => r.url).sort()).toEqual(['/containers', '/containers/templates', '/rate-limit']);

    const root = createRoot(document.getElementById('root')!);
    act(() =>
      root.render(
        <AppProvider client={client}>
          <App />
        </AppProvider>,
      ),
    );
    // One pass: no placeholder anywhere, every answer shown.
    expect(document.querySelector('[data-placeholder], [aria-busy="true"]')).toBeNull();
    expect(within(header).getByText('Simulated cluster')).toBeInTheDocument();
    expect(within(header).getByLabelText('5 of 5 creates left this hour from your address')).toBeInTheDocument();
    expect(screen.getByRole('radio', { name: /Python HTTP/ })).toBeInTheDocument();
    expect(screen.getByText('No containers yet')).toBeInTheDocument();
    expect(requests).toHaveLength(3); // nothing asked twice on mount
    act(() => root.unmount());
    document.body.innerHTML = '';
  });

  it('deleted cards can be cleared away, and stay away after a reload', async () => {
    const running = makeContainer({ id: 'c-run', state: 'running', phase: null, url: 'https://c-run.example' });
    const gone = makeContainer({ id: 'c-gone', state: 'deleted', phase: null });
    routeFetch((req) => {
      if (req.url === '/containers/templates') return { status: 200, body: { templates, lifetime: 3600, cluster: { simulated: false } } };
      if (req.url === '/rate-limit') return { status: 200, body: { policies: [] } };
      if (req.url === '/containers') return { status: 200, body: { containers: [running, gone] } };
      return undefined;
    });
    const first = renderWithQuery(<App />);
    expect(await screen.findByTestId('container-c-gone', {}, { timeout: 10_000 })).toBeInTheDocument();
    expect(screen.getByText('1 live · 2 total')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Clear deleted' }));
    expect(screen.queryByTestId('container-c-gone')).not.toBeInTheDocument();
    expect(screen.getByTestId('container-c-run')).toBeInTheDocument();
    expect(screen.getByText('1 live · 1 total')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Clear deleted' })).not.toBeInTheDocument();
    first.unmount();

    renderWithQuery(<App />); // a reload: the server still lists it, the page does not
    expect(await screen.findByTestId('container-c-run', {}, { timeout: 10_000 })).toBeInTheDocument();
    expect(screen.queryByTestId('container-c-gone')).not.toBeInTheDocument();
  });
});
