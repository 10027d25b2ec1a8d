import { parseRateLimit, parseRateLimitPolicy } from '@/api/rate-limit-headers';
import type { OtherContainer, RateLimitPolicy } from '@/api/types';

export type Scope = RateLimitPolicy['scope'];

export interface PolicyState {
  name: string;
  limit?: number;
  remaining?: number;
  /** epoch ms (visitor clock) when the next unit frees: a window's oldest stamp leaves it, or a live container ends */
  resetAt?: number;
  window?: number | null;
  scope?: Scope;
  description?: string;
}

/** What the page knows of each policy, by name: from GET /rate-limit and from response headers. */
export type Policies = Record<string, PolicyState>;

/** The quota as the page holds it: every policy, and the live containers that count against this
 * address or network but are not this browser's (GET /rate-limit's `others`). */
export interface QuotaState {
  policies: Policies;
  others: OtherContainer[];
}

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

/** Milliseconds until the earliest reset (when the numbers change by themselves). */
export function untilNextReset(policies: Policies, now = Date.now()): number | null {
  const resets = Object.values(policies)
    .map((p) => p.resetAt)
    .filter((t): t is number => t != null && t > now);
  return resets.length ? Math.min(...resets) - now : null;
}

/** Policies that count new containers per hour, and those that count live containers at once. */
export const CREATE_POLICIES = ['creates_per_address', 'creates_per_network'] as const;
export const LIVE_POLICIES = ['live_per_owner', 'live_per_address', 'live_per_network', 'network_share'] as const;
/** Everything that refuses a create with the puzzle (the proof-of-work-only path has one more). */
/** A full Sprout makes a create wait in line: then the places one address or network may hold refuse it too. */
export const LINE_POLICIES = ['places_per_address', 'places_per_network'] as const;
const BLOCKING = [...CREATE_POLICIES, ...LIVE_POLICIES, 'challenges_per_address', ...LINE_POLICIES] as const;
const isFull = (policies: Policies) => known(policies.capacity) && policies.capacity.remaining <= 0;

type Known = PolicyState & { limit: number; remaining: number };
const known = (p: PolicyState | undefined): p is Known => !!p && p.limit != null && p.remaining != null;

/** The tightest of some policies: the least left, then the smallest limit. */
function tightest(policies: Policies, names: readonly string[]): Known | undefined {
  return names
    .map((n) => policies[n])
    .filter(known)
    .sort((a, b) => a.remaining - b.remaining || a.limit - b.limit)[0];
}

export interface QuotaSummary {
  /** the tighter of the per-address and per-network hourly limits */
  creates?: Known;
  /** the tightest live limit: this browser's, the address's or the network's */
  live?: Known;
  /** the limit that refuses a create now, if any */
  blocker?: Known;
}

export function summarize(policies: Policies, now = Date.now()): QuotaSummary {
  return {
    creates: tightest(policies, CREATE_POLICIES),
    live: tightest(policies, LIVE_POLICIES),
    blocker: blockerOf(policies, now),
  };
}

/**
 * The limit that refuses a create now: of those used up, the one that opens last (the visitor
 * waits for all of them). A window whose reset has passed is open again whatever its count says.
 */
export function blockerOf(policies: Policies, now = Date.now(), names: readonly string[] = BLOCKING): Known | undefined {
  const closed = names
    .filter((n) => isFull(policies) || !(LINE_POLICIES as readonly string[]).includes(n))
    .map((n) => policies[n])
    .filter(known)
    .filter((p) => p.remaining <= 0 && !(p.window && p.resetAt != null && p.resetAt <= now));
  // A live limit without a known end opens last of all (when a container is deleted).
  const opens = (p: Known) => (p.resetAt != null && p.resetAt > now ? p.resetAt : Infinity);
  return closed.sort((a, b) => opens(b) - opens(a))[0];
}

/** When a closed limit opens again, epoch ms; null when only a delete opens it. */
export function opensAt(p: PolicyState, now = Date.now()): number | null {
  return p.resetAt != null && p.resetAt > now ? p.resetAt : null;
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

export const used = (p: Known): number => Math.max(0, p.limit - p.remaining);
