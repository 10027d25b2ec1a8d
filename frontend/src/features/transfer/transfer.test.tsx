import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { Container } from '@/api/types';
import { containersKey } from '@/features/containers/api/containers';
import { notificationStore } from '@/stores/notifications';
import { makeContainer } from '@/testing/fixtures';
import { routeFetch, type StubResponse } from '@/testing/fetch-stub';
import { renderWithQuery } from '@/testing/render';
import { cleanCode } from './api/transfer';
import { Transfer } from './components/transfer';

const mine = makeContainer({ id: 'abcdefghijkl', state: 'running' });

function backend(opts: { list?: Container[]; make?: StubResponse; redeem?: StubResponse } = {}) {
  const now = Date.now() / 1000;
  let list = opts.list ?? [];
  return routeFetch((req) => {
    if (req.url === '/containers' && req.method === 'GET') return { status: 200, body: { containers: list } };
    if (req.url === '/rate-limit') return { status: 200, body: { policies: [], others: [] } };
    if (req.url === '/containers/transfer' && req.method === 'POST') {
      return opts.make ?? { status: 201, body: { code: 'K7M2Q-XP4RT', link: '/?transfer=K7M2QXP4RT', expires_at: now + 600 } };
    }
    if (req.url === '/containers/transfer/redeem' && req.method === 'POST') {
      if (opts.redeem) return opts.redeem;
      list = [mine]; // this browser is the other one's owner now
      return { status: 200, body: { containers: list } };
    }
    return undefined;
  });
}

const unknownCode: StubResponse = {
  status: 404,
  body: { error: { code: 'transfer_code_unknown', message: 'This transfer code is unknown or was used already. Make a new one on the device that has the containers.' } },
};

function toasts() {
  return notificationStore.get().map((n) => `${n.tone}: ${n.title}: ${n.message}`);
}

afterEach(() => window.history.replaceState(null, '', '/'));

describe('transfer codes', () => {
  it('takes a code as a person types it, and refuses what cannot be one', () => {
    expect(cleanCode(' k7m2q-xp4rt ')).toBe('K7M2Q-XP4RT');
    expect(cleanCode('K7M2QXP4RT')).toBe('K7M2QXP4RT');
    expect(cleanCode('K7M2 Q XP4R T')).toBe('K7M2QXP4RT');
    expect(cleanCode('K7M2Q-XP4R1')).toBeNull(); // 1 is never in a code
    expect(cleanCode('K7M2Q')).toBeNull();
    expect(cleanCode('')).toBeNull();
  });

  it('shows the link and the code to carry this browser’s containers, with copy buttons', async () => {
    const { requests } = backend({ list: [mine] });
    renderWithQuery(<Transfer />);
    fireEvent.click(await screen.findByRole('button', { name: 'Use on another device' }));
    const dialog = await screen.findByRole('dialog', { name: 'Use on another device' }, { timeout: 10_000 });
    expect(await within(dialog).findByLabelText('Code')).toHaveValue('K7M2Q-XP4RT');
    expect(within(dialog).getByLabelText('Link')).toHaveValue(`${window.location.origin}/?transfer=K7M2QXP4RT`);
    expect(within(dialog).getByRole('button', { name: 'Copy link' })).toBeInTheDocument();
    expect(within(dialog).getByRole('button', { name: 'Copy code' })).toBeInTheDocument();
    expect(within(dialog).getByText(/It works once, for 10 minutes/)).toBeInTheDocument();
    expect(requests.filter((r) => r.url === '/containers/transfer')).toHaveLength(1);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('says why no code was made, in the server’s words', async () => {
    backend({
      list: [mine],
      make: {
        status: 429,
        body: { error: { code: 'rate_limited', message: 'Too many transfer codes made from your address: 10 an hour. Try again in 12 minutes.', details: { policy: 'transfers_per_address', retry_after: 720 } } },
        headers: { 'Retry-After': '720' },
      },
    });
    renderWithQuery(<Transfer />);
    fireEvent.click(await screen.findByRole('button', { name: 'Use on another device' }));
    const alert = await screen.findByRole('alert', {}, { timeout: 10_000 });
    expect(alert).toHaveTextContent('Could not make a code. Too many transfer codes made from your address: 10 an hour.');
  });

  it('offers no code to a browser without containers, but takes one typed in', async () => {
    const { requests } = backend();
    const { client } = renderWithQuery(<Transfer />);
    await waitFor(() => expect(requests.some((r) => r.url === '/containers')).toBe(true));
    expect(screen.queryByRole('button', { name: 'Use on another device' })).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'I have a transfer code' }));
    const dialog = await screen.findByRole('dialog', { name: 'Use a code from another device' }, { timeout: 10_000 });
    const input = within(dialog).getByLabelText('Transfer code');
    await waitFor(() => expect(input).toHaveFocus());

    fireEvent.change(input, { target: { value: 'K7M2Q' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Use code' }));
    expect(within(dialog).getByRole('alert')).toHaveTextContent('A code is ten letters and digits');
    expect(input).toHaveAttribute('aria-invalid', 'true');
    expect(requests.some((r) => r.url === '/containers/transfer/redeem')).toBe(false);

    fireEvent.change(input, { target: { value: 'k7m2q-xp4rt' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Use code' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    const redeem = requests.find((r) => r.url === '/containers/transfer/redeem');
    expect(redeem?.body).toEqual({ code: 'K7M2Q-XP4RT' });
    expect(toasts()).toContain('success: Containers carried over: One container is now yours in this browser too.');
    expect(client.getQueryData<{ containers: Container[] }>(containersKey)?.containers.map((c) => c.id)).toEqual([mine.id]);
    expect(await screen.findByRole('button', { name: 'Use on another device' })).toBeInTheDocument();
  });

  it('keeps the dialog open with the server’s reason when a typed code is refused', async () => {
    backend({ redeem: unknownCode });
    renderWithQuery(<Transfer />);
    fireEvent.click(screen.getByRole('button', { name: 'I have a transfer code' }));
    const dialog = await screen.findByRole('dialog', { name: 'Use a code from another device' }, { timeout: 10_000 });
    fireEvent.change(within(dialog).getByLabelText('Transfer code'), { target: { value: 'K7M2QXP4RT' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Use code' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('This transfer code is unknown or was used already.');
  });

  it('redeems a transfer link as the page opens, once, and takes the code out of the address', async () => {
    window.history.replaceState(null, '', '/?transfer=k7m2qxp4rt&theme=dark#top');
    const { requests } = backend();
    renderWithQuery(<Transfer />);
    await waitFor(() => expect(toasts()).toContain('success: Containers carried over: One container is now yours in this browser too.'));
    expect(`${window.location.pathname}${window.location.search}${window.location.hash}`).toBe('/?theme=dark#top');
    const redeems = requests.filter((r) => r.url === '/containers/transfer/redeem');
    expect(redeems.map((r) => r.body)).toEqual([{ code: 'K7M2QXP4RT' }]);
  });

  it('says so when a transfer link’s code is used up, and does not try a broken one', async () => {
    window.history.replaceState(null, '', '/?transfer=K7M2QXP4RT');
    backend({ redeem: unknownCode });
    const first = renderWithQuery(<Transfer />);
    await waitFor(() => expect(toasts()[0]).toMatch(/^error: Transfer link not used: This transfer code is unknown or was used already/));
    expect(window.location.search).toBe('');
    first.unmount();

    notificationStore.set([]);
    window.history.replaceState(null, '', '/?transfer=not-a-code');
    const { requests } = backend();
    renderWithQuery(<Transfer />);
    await waitFor(() => expect(toasts()[0]).toMatch(/^error: Transfer link not valid/));
    expect(requests.some((r) => r.url === '/containers/transfer/redeem')).toBe(false);
  });
});
