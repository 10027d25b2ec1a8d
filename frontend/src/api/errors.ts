/**
 * The one error type the API client throws, and the one place that turns any error into words
 * a visitor can act on. Every notification goes through `describeError`.
 *
 *   ApiError
 *   ├── kind "http"     the server answered with a non-2xx status (code from the error body)
 *   ├── kind "network"  no answer at all (offline, DNS, connection refused)
 *   ├── kind "timeout"  no answer within the configured time
 *   └── kind "aborted"  we cancelled it ourselves; never shown
 */
import { formatDurationWords, formatTimeOfDay } from '@/lib/time';

export type ApiErrorKind = 'http' | 'network' | 'timeout' | 'aborted';

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** Seconds to wait before retrying (from details.retry_after or the Retry-After header). */
  readonly retryAfter: number | null;
  /** When the retry becomes sensible, epoch ms on the visitor's clock. */
  readonly retryAt: number | null;

  constructor(init: {
    kind: ApiErrorKind;
    status?: number;
    code: string;
    message: string;
    details?: unknown;
    retryAfter?: number | null;
    now?: number;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.kind = init.kind;
    this.status = init.status ?? 0;
    this.code = init.code;
    this.details = init.details;
    this.retryAfter = init.retryAfter ?? null;
    this.retryAt = this.retryAfter != null ? (init.now ?? Date.now()) + this.retryAfter * 1000 : null;
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** Retry-After is either delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * What each limit is called when it refuses something. The server's message says the rest in its
 * own words (the limit, whose it is, when it opens), one per policy.
 */
export const POLICY_TITLES: Record<string, string> = {
  creates_per_address: 'Hourly limit reached',
  creates_per_network: "Your network's hourly limit reached",
  pow_creates_per_address: 'Limit without the puzzle reached',
  live_per_owner: 'Live limit reached',
  live_per_address: "Your address's live limit reached",
  live_per_network: "Your network's live limit reached",
  network_share: "Your network's share is in use",
  challenges_per_address: 'Too many puzzles',
  capacity: 'Sprout is full',
  places_per_address: "Your address's places in line are taken",
  places_per_network: "Your network's places in line are taken",
};

function detailsRecord(details: unknown): Record<string, unknown> {
  return details && typeof details === 'object' && !Array.isArray(details) ? (details as Record<string, unknown>) : {};
}

/** Which field a 422 complains about (details may be {field}, {fields: [...]}, or a list of {loc}). */
export function invalidFieldName(details: unknown): string | null {
  if (Array.isArray(details)) {
    const first = details[0] as { loc?: unknown; field?: unknown } | undefined;
    if (first && Array.isArray(first.loc)) return String(first.loc[first.loc.length - 1]);
    if (first && typeof first.field === 'string') return first.field;
    return null;
  }
  const d = detailsRecord(details);
  if (typeof d.field === 'string') return d.field;
  if (Array.isArray(d.fields) && d.fields.length) return String(d.fields[0]);
  return null;
}

export interface ErrorDescription {
  title: string;
  message: string;
  tone: 'error' | 'warning' | 'info';
  /** Epoch ms (visitor clock) after which retrying makes sense; rendered as a live countdown. */
  retryAt: number | null;
}

export function describeError(error: unknown, now = Date.now()): ErrorDescription {
  if (!isApiError(error)) {
    return {
      title: 'Something went wrong',
      message: error instanceof Error && error.message ? error.message : 'An unexpected error happened in the page.',
      tone: 'error',
      retryAt: null,
    };
  }
  const e = error;
  const retryAt = e.retryAt ?? null;
  const when =
    e.retryAfter != null
      ? e.retryAfter <= 90
        ? `in ${formatDurationWords(e.retryAfter)}`
        : `in ${formatDurationWords(e.retryAfter)} (at ${formatTimeOfDay(now + e.retryAfter * 1000)})`
      : null;

  switch (e.kind) {
    case 'network':
      return {
        title: "Can't reach Sprout",
        message:
          typeof navigator !== 'undefined' && navigator.onLine === false
            ? 'You are offline. Sprout will refresh as soon as you are back.'
            : 'The server did not answer. Check your connection; we keep retrying.',
        tone: 'warning',
        retryAt: null,
      };
    case 'timeout':
      return {
        title: 'Sprout is slow to answer',
        message: 'The request took too long and was stopped. Please try again in a moment.',
        tone: 'warning',
        retryAt: null,
      };
    case 'aborted':
      return { title: 'Cancelled', message: 'The request was cancelled.', tone: 'info', retryAt: null };
    default:
      break;
  }

  const details = detailsRecord(e.details);
  switch (e.code) {
    case 'rate_limited': {
      const policy = typeof details.policy === 'string' ? details.policy : '';
      const title = POLICY_TITLES[policy] ?? 'Limit reached';
      // The page shows when the limit opens again on the Create button and in the quota: the
      // notice says which limit, in the server's words, and does not count down itself.
      const message = e.message.startsWith(`${title}: `) ? e.message.slice(title.length + 2) : e.message;
      return {
        title,
        message: message || (when ? `Try again ${when}.` : 'Please try again later.'),
        tone: 'warning',
        retryAt: null,
      };
    }
    case 'capacity_full':
      return {
        title: 'Sprout is full right now',
        message: `Every container slot is taken. ${when ? `Try again ${when}; slots free up as containers expire.` : 'Try again in a few minutes; slots free up as containers expire.'}`,
        tone: 'warning',
        retryAt,
      };
    case 'invalid_field': {
      const field = invalidFieldName(e.details);
      return {
        title: field ? `Invalid ${field.replace(/_/g, ' ')}` : 'Invalid request',
        message: field ? `The server rejected the field “${field}”: ${e.message}` : e.message,
        tone: 'error',
        retryAt: null,
      };
    }
    case 'captcha_required':
    case 'captcha_invalid':
      return {
        title: 'Puzzle pass expired',
        message: 'Your puzzle pass was used or expired. Solve a new puzzle to continue.',
        tone: 'warning',
        retryAt: null,
      };
    case 'captcha_failed':
      return {
        title: 'Puzzle not solved',
        message: 'That did not match. Here is a fresh puzzle; give it another go.',
        tone: 'warning',
        retryAt: null,
      };
    case 'not_found':
      return { title: 'Not found', message: e.message || 'That container no longer exists.', tone: 'info', retryAt: null };
    default:
      break;
  }
  if (e.status === 429) {
    return { title: 'Too many requests', message: `${e.message} ${when ? `Try again ${when}.` : ''}`.trim(), tone: 'warning', retryAt };
  }
  if (e.status === 503) {
    return { title: 'Temporarily unavailable', message: `${e.message} ${when ? `Try again ${when}.` : 'Try again later.'}`.trim(), tone: 'warning', retryAt };
  }
  if (e.status >= 500) {
    return {
      title: 'Sprout had a problem',
      message: e.message && e.code !== `http_${e.status}` ? e.message : `The server failed to answer (HTTP ${e.status}). Please try again shortly.`,
      tone: 'error',
      retryAt,
    };
  }
  return { title: 'Request failed', message: e.message || `HTTP ${e.status}`, tone: 'error', retryAt };
}
