import { startTransition, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { config } from '@/config/env';
import { observeRateLimitHeaders } from '@/features/quota/api/rate-limit';
import { createQueryClient } from '@/lib/query-client';
import { App } from './app/app';
import { prefetchFirstScreen } from './app/first-screen';
import { AppProvider } from './app/provider';
import './index.css';

const client = createQueryClient();
observeRateLimitHeaders(client);

// Until the first answers are in, index.html's header and placeholder stand. The first render
// is a transition: React yields to the browser every few milliseconds while it builds the page
// (one long task would block a phone's main thread for hundreds of milliseconds).
void prefetchFirstScreen(client, config.slowRequestMs).then(() => {
  const root = createRoot(document.getElementById('root')!);
  startTransition(() =>
    root.render(
      <StrictMode>
        <AppProvider client={client}>
          <App />
        </AppProvider>
      </StrictMode>,
    ),
  );
});
