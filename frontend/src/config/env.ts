/**
 * Validated runtime configuration. Values come from `VITE_*` variables at build time;
 * everything has a sensible default so a plain `npm run build` works. A bad value
 * fails loudly at start-up with a message that names the variable.
 */

export interface AppConfig {
  /** Prefix for API paths; empty means same origin (the gateway serves the page and the API). */
  apiBase: string;
  /** Poll interval while something is pending or deleting. */
  pollFastMs: number;
  /** Poll interval when everything is settled. */
  pollSlowMs: number;
  /** A request slower than this shows a "still working" hint. */
  slowRequestMs: number;
  /** A request is abandoned after this long. */
  requestTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(`Invalid Sprout configuration:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | boolean | undefined>;

function intIn(src: Source, key: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = src[key];
  if (raw === undefined || raw === '') return fallback;
  const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    problems.push(`${key} must be a whole number between ${min} and ${max} (got ${JSON.stringify(raw)})`);
    return fallback;
  }
  return n;
}

export function parseConfig(src: Source): AppConfig {
  const problems: string[] = [];
  let apiBase = typeof src.VITE_API_BASE === 'string' ? src.VITE_API_BASE.trim() : '';
  if (apiBase && !/^(https?:\/\/[^\s]+|\/[^\s]*)$/.test(apiBase)) {
    problems.push(`VITE_API_BASE must be an absolute URL or a path starting with "/" (got ${JSON.stringify(apiBase)})`);
  }
  apiBase = apiBase.replace(/\/+$/, '');
  const config: AppConfig = {
    apiBase,
    pollFastMs: intIn(src, 'VITE_POLL_FAST_MS', 500, 250, 60_000, problems),
    pollSlowMs: intIn(src, 'VITE_POLL_SLOW_MS', 8000, 1000, 600_000, problems),
    slowRequestMs: intIn(src, 'VITE_SLOW_REQUEST_MS', 3000, 250, 60_000, problems),
    requestTimeoutMs: intIn(src, 'VITE_REQUEST_TIMEOUT_MS', 20_000, 1000, 120_000, problems),
  };
  if (config.pollSlowMs < config.pollFastMs) {
    problems.push('VITE_POLL_SLOW_MS must not be shorter than VITE_POLL_FAST_MS');
  }
  if (config.requestTimeoutMs <= config.slowRequestMs) {
    problems.push('VITE_REQUEST_TIMEOUT_MS must be longer than VITE_SLOW_REQUEST_MS');
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}

export const config: AppConfig = parseConfig(import.meta.env as unknown as Source);
