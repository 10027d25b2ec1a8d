/**
 * The one HTTP client of the page. Every request goes through `request()`, which:
 *  - sends JSON with the owner cookie (same-origin credentials),
 *  - turns every failure into a typed `ApiError` (see errors.ts),
 *  - reports errors to the one notification path unless the caller renders them itself,
 *  - lets observers see every response's headers (RateLimit, Date),
 *  - marks requests that are slow and abandons those that hang.
 */
import { notifyError } from '@/stores/notifications';
import { setUnreachable, slowRequestEnded, slowRequestStarted } from '@/stores/network';
import { config } from '@/config/env';
import { observeServerDate } from '@/lib/clock';
import { ApiError, parseRetryAfter } from './errors';
import type { ErrorBody } from './types';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * false: the caller renders the error itself. A string: errors with this key replace each other
   * (for polling). Default: report every error.
   */
  notify?: boolean | string;
}

export interface ApiResponse<T> {
  status: number;
  /** null for 304 and empty bodies */
  data: T | null;
  headers: Headers;
}

type ResponseObserver = (res: { status: number; headers: Headers; path: string }) => void;
const observers = new Set<ResponseObserver>();

/** Features subscribe here to read headers of every response (e.g. the quota reads RateLimit). */
export function addResponseObserver(fn: ResponseObserver): () => void {
  observers.add(fn);
  return () => observers.delete(fn);
}

function isErrorBody(v: unknown): v is ErrorBody {
  return !!v && typeof v === 'object' && 'error' in v && !!(v as ErrorBody).error && typeof (v as ErrorBody).error.code === 'string';
}

async function readJson(res: Response): Promise<unknown> {
  if (res.status === 204 || res.status === 304) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON (e.g. an HTML page from a proxy)
  }
}

export function errorFromResponse(status: number, headers: Headers, body: unknown, now = Date.now()): ApiError {
  const headerRetry = parseRetryAfter(headers.get('Retry-After'), now);
  if (isErrorBody(body)) {
    const { code, message, details } = body.error;
    const d = details && typeof details === 'object' ? (details as Record<string, unknown>) : {};
    const detailRetry = typeof d.retry_after === 'number' ? d.retry_after : null;
    return new ApiError({ kind: 'http', status, code, message, details, retryAfter: detailRetry ?? headerRetry, now });
  }
  const fallback: Record<number, string> = {
    404: 'not_found',
    429: 'rate_limited',
    502: 'bad_gateway',
    503: 'unavailable',
    504: 'gateway_timeout',
  };
  return new ApiError({
    kind: 'http',
    status,
    code: fallback[status] ?? `http_${status}`,
    message: status >= 500 ? `The server failed to answer (HTTP ${status}).` : `The request failed (HTTP ${status}).`,
    retryAfter: headerRetry,
    now,
  });
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
  const { method = 'GET', body, headers = {}, signal, notify = true } = opts;
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort);
  if (signal?.aborted) controller.abort();

  let slow = false;
  const slowTimer = setTimeout(() => {
    slow = true;
    slowRequestStarted();
  }, config.slowRequestMs);
  const timeoutTimer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, config.requestTimeoutMs);

  const finish = () => {
    clearTimeout(slowTimer);
    clearTimeout(timeoutTimer);
    signal?.removeEventListener('abort', onAbort);
    if (slow) slowRequestEnded();
  };

  const report = (err: ApiError) => {
    if (notify !== false) notifyError(err, typeof notify === 'string' ? notify : undefined);
    return err;
  };

  let res: Response;
  try {
    res = await fetch(config.apiBase + path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: {
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: controller.signal,
    });
  } catch (cause) {
    finish();
    if (timedOut) {
      setUnreachable(true);
      throw report(new ApiError({ kind: 'timeout', code: 'timeout', message: 'The request timed out.' }));
    }
    if (controller.signal.aborted) {
      throw new ApiError({ kind: 'aborted', code: 'aborted', message: 'The request was cancelled.' });
    }
    setUnreachable(true);
    throw report(
      new ApiError({ kind: 'network', code: 'network', message: cause instanceof Error ? cause.message : 'Network error' }),
    );
  }

  let parsed: unknown;
  try {
    parsed = await readJson(res);
  } catch {
    parsed = undefined;
  } finally {
    finish();
  }
  setUnreachable(false);
  observeServerDate(res.headers.get('Date'));
  observers.forEach((fn) => fn({ status: res.status, headers: res.headers, path }));

  if (res.status === 304 || res.ok) {
    return { status: res.status, data: (parsed ?? null) as T | null, headers: res.headers };
  }
  throw report(errorFromResponse(res.status, res.headers, parsed));
}
