import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { AppProvider } from '@/app/provider';
import { createQueryClient } from '@/lib/query-client';

/** Render inside the page's providers, with a fresh query cache (nothing carries over between tests). */
export function renderWithQuery(ui: ReactElement) {
  const client = createQueryClient();
  return { client, ...render(<AppProvider client={client}>{ui}</AppProvider>) };
}
