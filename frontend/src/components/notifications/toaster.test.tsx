import { act, render, screen, within } from '@testing-library/react';
import { expect, it, vi } from 'vitest';

it('a toast says what it has to say before its chunk is in, then is drawn in full', async () => {
  // A fresh copy of the modules: the suite's setup already loaded the toasts' chunk.
  vi.resetModules();
  const { Toaster } = await import('./toaster');
  const { notify } = await import('@/stores/notifications');
  render(<Toaster />);
  act(() => {
    notify({ tone: 'error', title: "Can't reach Sprout", message: 'You are offline.' });
  });
  // First pass: plain text in the live region, no dismiss button yet.
  const plain = screen.getByTestId('toast');
  expect(plain).toHaveAttribute('role', 'alert');
  expect(within(plain).getByText("Can't reach Sprout")).toBeInTheDocument();
  expect(within(plain).queryByRole('button')).not.toBeInTheDocument();
  // The chunk arrives: the same toast, with its icon and dismiss button.
  expect(await screen.findByRole('button', { name: 'Dismiss notification' })).toBeInTheDocument();
  expect(screen.getAllByTestId('toast')).toHaveLength(1);
  expect(screen.getByText('You are offline.')).toBeInTheDocument();
});
