import { parseRateLimit, parseRateLimitPolicy } from '@/api/rate-limit-headers';
import type { RateLimitPolicy } from '@/api/types';

export interface PolicyState {
  name: string;
  limit?: number;
  remaining?: number;
  /** epoch ms (visitor clock) when the window resets */
  resetAt?: number;
  window?: number | null;
  scope?: RateLimitPolicy['scope'];
  description?: string;
}

/** What the page knows of each policy, by name: from GET /rate-limit and from response headers. */
export type Policies = Record<string, PolicyState>;

/** The full picture GET /rate-limit gives, over what headers said of policies it does not name. */
export function withPolicies(known: Policies, policies: RateLimitPolicy[], now = Date.now()): Policies {
  const next = { ...known };
  for (const p of policies) {
    next[p.name] = {
      name: p.name,
      limit: p.limit,
      remaining: p.remaining,
      resetAt: now + p.reset * 1000,
      window: p.window,
      scope: p.scope,
      description: p.description,
    };
  }
  return next;
}

/** Merge what the `RateLimit-Policy` / `RateLimit` headers of any response say; null if nothing. */
export function withHeaders(known: Policies, headers: Headers, now = Date.now()): Policies | null {
  const defs = parseRateLimitPolicy(headers.get('RateLimit-Policy'));
  const limits = parseRateLimit(headers.get('RateLimit'));
  if (!defs.length && !limits.length) return null;
  const next = { ...known };
  for (const d of defs) {
    const prev = next[d.name] ?? { name: d.name };
    next[d.name] = { ...prev, limit: d.quota ?? prev.limit, window: d.window ?? prev.window };
  }
  for (const l of limits) {
    const prev = next[l.name] ?? { name: l.name };
    next[l.name] = {
      ...prev,
      remaining: l.remaining ?? prev.remaining,
      resetAt: l.reset != null ? now + l.reset * 1000 : prev.resetAt,
    };
  }
  return next;
}

/** Milliseconds until the earliest window resets (when the numbers change by themselves). */
export function untilNextReset(policies: Policies, now = Date.now()): number | null {
  const resets = Object.values(policies)
    .map((p) => p.resetAt)
    .filter((t): t is number => t != null && t > now);
  return resets.length ? Math.min(...resets) - now : null;
}

export interface QuotaSummary {
  creates?: PolicyState;
  /** the tighter of the per-address and per-owner live limits */
  live?: PolicyState;
}

export function summarize(policies: Policies): QuotaSummary {
  const live = [policies.live_per_owner, policies.live_per_address]
    .filter((p): p is PolicyState => !!p && p.limit != null && p.remaining != null)
    .sort((a, b) => a.remaining! - b.remaining! || a.limit! - b.limit!)[0];
  return { creates: policies.creates_per_address, live };
}

/**
 * Seconds until a policy's window resets, or null when it is not counting. Never more than the
 * window: just after the first create the server's count may round up past it.
 */
export function resetIn(p: PolicyState | undefined, now = Date.now()): number | null {
  if (!p?.resetAt) return null;
  const s = Math.ceil((p.resetAt - now) / 1000);
  if (s <= 0) return null;
  return p.window ? Math.min(s, p.window) : s;
}
