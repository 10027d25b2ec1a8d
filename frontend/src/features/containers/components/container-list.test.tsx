import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeContainer, NOW, templates } from '@/testing/fixtures';
import { ContainerList } from './container-list';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(NOW * 1000);
});
afterEach(() => vi.useRealTimers());

function card(id: string) {
  return screen.getByTestId(`container-${id}`);
}

describe('ContainerList', () => {
  it('invites the first container when empty', () => {
    const onStart = vi.fn();
    render(<ContainerList containers={[]} templates={templates} onDelete={vi.fn()} onStart={onStart} />);
    expect(screen.getByText('No containers yet')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: /Start your first container/ }));
    expect(onStart).toHaveBeenCalled();
  });

  it('shows a placeholder (not "empty") before the first answer', () => {
    render(<ContainerList containers={null} templates={templates} onDelete={vi.fn()} />);
    expect(screen.getByLabelText('Loading your containers')).toHaveAttribute('aria-busy', 'true');
    expect(screen.queryByText('No containers yet')).not.toBeInTheDocument();
  });

  it('pending: badge, the current phase, and the elapsed time ticking', () => {
    render(
      <ContainerList
        containers={[makeContainer({ id: 'c-p', state: 'pending', phase: 'creating', created_at: NOW - 7 })]}
        templates={templates}
        onDelete={vi.fn()}
      />,
    );
    const c = within(card('c-p'));
    expect(c.getByText('Pending')).toBeInTheDocument();
    expect(c.getByText('Static web server')).toBeInTheDocument(); // template title, not name
    const current = c.getByText('Creating').closest('li');
    expect(current).toHaveAttribute('aria-current', 'step');
    expect(c.getByText('Queued').closest('li')).not.toHaveAttribute('aria-current');
    expect(c.getByText(/Pending for/)).toHaveTextContent('Pending for 0:07');
    act(() => {
      vi.advanceTimersByTime(3000);
    });
    expect(c.getByText(/Pending for/)).toHaveTextContent('Pending for 0:10');
    // never shows an address before the server says running
    expect(c.queryByRole('link')).not.toBeInTheDocument();
    expect(c.getByText(/Expires in/)).toHaveTextContent('Expires in 59:50') // 3593 s minus the 3 s that passed;
  });

  it('pending without a phase yet counts as queued', () => {
    render(<ContainerList containers={[makeContainer({ id: 'c-q', phase: null })]} templates={templates} onDelete={vi.fn()} />);
    expect(within(card('c-q')).getByText('Queued').closest('li')).toHaveAttribute('aria-current', 'step');
  });

  it('waiting in line: its place and about when it starts, as each poll says, in no live region; no expiry of its own', () => {
    const waiting = (position: number, eta: number) =>
      makeContainer({ id: 'c-w', state: 'pending', phase: 'waiting', position, eta_seconds: eta, expires_at: NOW + 3600 });
    const { rerender } = render(<ContainerList containers={[waiting(3, 125)]} templates={templates} onDelete={vi.fn()} />);
    const c = within(card('c-w'));
    expect(c.getByText('3rd in line')).toBeInTheDocument();
    expect(c.getByText(/starts in about/)).toHaveTextContent('starts in about 2:05');
    expect(c.getByText(/Every slot on Sprout is taken/)).toHaveTextContent(/keep this page open to hold its place \(until .+ at the latest\)\.$/);
    expect(c.queryByText(/Expires in/)).toBeNull();
    expect(c.queryByRole('list', { name: 'Progress' })).toBeNull();
    expect(card('c-w').querySelector('[aria-live], [role="status"]')).toBeNull();
    rerender(<ContainerList containers={[waiting(1, 20)]} templates={templates} onDelete={vi.fn()} />);
    expect(c.getByText('1st in line')).toBeInTheDocument();
    expect(c.getByText(/starts in about/)).toHaveTextContent('starts in about 0:20');
    rerender(<ContainerList containers={[{ ...waiting(12, 0), eta_seconds: null }]} templates={templates} onDelete={vi.fn()} />);
    expect(c.getByText('12th in line')).toBeInTheDocument();
    expect(c.getByText('start time not known yet')).toBeInTheDocument();
    expect(c.getByRole('button', { name: 'Delete container c-w' })).toBeInTheDocument();
  });

  it('running: the URL as a link, copy with feedback, and the countdown to expiry', async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const url = 'https://c-r.sprout.example.dev';
    render(
      <ContainerList
        containers={[makeContainer({ id: 'c-r', template: 'python', state: 'running', phase: null, url, started_at: NOW - 60, expires_at: NOW + 125 })]}
        templates={templates}
        onDelete={vi.fn()}
      />,
    );
    const c = within(card('c-r'));
    expect(c.getByText('Running')).toBeInTheDocument();
    const link = c.getByRole('link', { name: 'c-r.sprout.example.dev' });
    expect(link).toHaveAttribute('href', url);
    expect(link).toHaveAttribute('rel', expect.stringContaining('noopener'));
    expect(c.getByText(/Expires in/)).toHaveTextContent('Expires in 2:05');
    await act(async () => {
      fireEvent.click(c.getByRole('button', { name: 'Copy URL' }));
    });
    expect(writeText).toHaveBeenCalledWith(url);
    expect(c.getByRole('button', { name: 'Copied' })).toHaveTextContent('Copied');
    act(() => {
      vi.advanceTimersByTime(2100);
    });
    expect(c.getByRole('button', { name: 'Copy URL' })).toBeInTheDocument();
    expect(c.getByText(/Expires in/)).toHaveTextContent('Expires in 2:03');
  });

  it('failed: the reason a person can read, and delete', () => {
    const onDelete = vi.fn();
    const failed = makeContainer({ id: 'c-f', state: 'failed', phase: null, error: 'Image pull failed: registry timed out.' });
    render(<ContainerList containers={[failed]} templates={templates} onDelete={onDelete} />);
    const c = within(card('c-f'));
    expect(c.getByText('Failed')).toBeInTheDocument();
    expect(c.getByText('Image pull failed: registry timed out.')).toBeInTheDocument();
    fireEvent.click(c.getByRole('button', { name: 'Delete container c-f' }));
    expect(onDelete).toHaveBeenCalledWith(failed);
  });

  it('deleting: says so, offers no delete, shows no URL even if the record still has one', () => {
    render(
      <ContainerList
        containers={[makeContainer({ id: 'c-d', state: 'deleting', phase: null, url: 'https://old.example' })]}
        templates={templates}
        onDelete={vi.fn()}
      />,
    );
    const c = within(card('c-d'));
    expect(c.getByText('Deleting')).toBeInTheDocument();
    expect(c.getByText('Stopping and cleaning up…')).toBeInTheDocument();
    expect(c.queryByRole('button', { name: /Delete/ })).not.toBeInTheDocument();
    expect(c.queryByRole('link')).not.toBeInTheDocument();
  });

  it('orders live containers first and ended ones last', () => {
    render(
      <ContainerList
        containers={[
          makeContainer({ id: 'old', state: 'deleted', created_at: NOW - 50 }),
          makeContainer({ id: 'bad', state: 'failed', created_at: NOW - 5 }),
          makeContainer({ id: 'run', state: 'running', url: 'https://x', created_at: NOW - 100 }),
          makeContainer({ id: 'new', state: 'pending', created_at: NOW - 1 }),
        ]}
        templates={templates}
        onDelete={vi.fn()}
      />,
    );
    const ids = screen.getAllByRole('listitem').filter((li) => li.dataset.testid).map((li) => li.dataset.testid);
    expect(ids).toEqual(['container-new', 'container-run', 'container-bad', 'container-old']);
  });
});
