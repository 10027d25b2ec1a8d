import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { useEffect, type ReactNode } from 'react';
import { observeRateLimitHeaders } from '@/features/quota/api/rate-limit';

/** The page's server state, with the quota kept current by every response's RateLimit headers. */
export function AppProvider({ client, children }: { client: QueryClient; children: ReactNode }) {
  useEffect(() => observeRateLimitHeaders(client), [client]);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
