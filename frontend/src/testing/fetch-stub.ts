import { vi } from 'vitest';

export interface StubResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** raw text body instead of JSON */
  text?: string;
}

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
  signal?: AbortSignal | null;
}

/**
 * Replaces global fetch with a queue of canned responses (or a thrown error) and records requests.
 * Test-only: the app itself never mocks the API.
 */
export function stubFetch(...queue: (StubResponse | Error)[]) {
  const requests: RecordedRequest[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    requests.push({
      url: String(input),
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    const next = queue.shift();
    if (!next) throw new Error(`unexpected request ${init.method ?? 'GET'} ${String(input)}`);
    if (next instanceof Error) throw next;
    const text = next.text ?? (next.body === undefined ? '' : JSON.stringify(next.body));
    return new Response(next.status === 304 || next.status === 204 ? null : text, {
      status: next.status,
      headers: { 'Content-Type': 'application/json', ...next.headers },
    });
  });
  vi.stubGlobal('fetch', fn);
  return { fn, requests };
}

type Answer = StubResponse | Error | undefined;
export type RouteHandler = (req: RecordedRequest) => Answer | Promise<Answer>;

/** Rejects as fetch does when its signal aborts. */
function abortable<T>(answer: T | Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return Promise.resolve(answer);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(new DOMException('The operation was aborted.', 'AbortError'));
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    Promise.resolve(answer).then(resolve, reject);
  });
}

/**
 * Like stubFetch, but answers by method and path (for whole-page tests). A handler may answer
 * later (a Promise); an aborted request rejects at once, as fetch does.
 */
export function routeFetch(handler: RouteHandler) {
  const requests: RecordedRequest[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const req: RecordedRequest = {
      url: String(input),
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      signal: init.signal,
    };
    requests.push(req);
    const res = await abortable(handler(req), init.signal);
    if (!res) throw new Error(`unexpected request ${req.method} ${req.url}`);
    if (res instanceof Error) throw res;
    const text = res.text ?? (res.body === undefined ? '' : JSON.stringify(res.body));
    return new Response(res.status === 304 || res.status === 204 ? null : text, {
      status: res.status,
      headers: { 'Content-Type': 'application/json', ...res.headers },
    });
  });
  vi.stubGlobal('fetch', fn);
  return { fn, requests };
}
