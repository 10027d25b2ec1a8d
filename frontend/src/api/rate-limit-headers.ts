/**
 * Parser for the IETF httpapi RateLimit headers (draft-ietf-httpapi-ratelimit-headers):
 *   RateLimit-Policy: "creates_per_address";q=5;w=3600, "live_per_owner";q=3
 *   RateLimit: "creates_per_address";r=3;t=1200
 * Both are Structured Field lists of (quoted) names with parameters.
 */

export interface HeaderPolicy {
  name: string;
  quota?: number;
  window?: number;
}

export interface HeaderLimit {
  name: string;
  remaining?: number;
  reset?: number;
}

/** Split a structured-field list on commas that are outside quoted strings. */
function splitList(value: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted && i + 1 < value.length) {
      cur += c + value[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parseItems(value: string | null): { name: string; params: Record<string, string> }[] {
  if (!value) return [];
  return splitList(value, ',').flatMap((member) => {
    const [head, ...rest] = splitList(member, ';');
    if (!head) return [];
    const name = head.startsWith('"') && head.endsWith('"') && head.length >= 2 ? head.slice(1, -1).replace(/\\(.)/g, '$1') : head;
    if (!name) return [];
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
      else params[p.trim()] = '?1';
    }
    return [{ name, params }];
  });
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || !/^-?\d+(\.\d+)?$/.test(v)) return undefined;
  return Number(v);
}

export function parseRateLimitPolicy(value: string | null): HeaderPolicy[] {
  return parseItems(value).map(({ name, params }) => ({ name, quota: num(params.q), window: num(params.w) }));
}

export function parseRateLimit(value: string | null): HeaderLimit[] {
  return parseItems(value).map(({ name, params }) => ({ name, remaining: num(params.r), reset: num(params.t) }));
}
