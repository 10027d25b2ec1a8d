import { POLICY_TITLES } from '@/api/errors';
import { formatClock, formatTimeOfDay } from '@/lib/time';
import { opensAt, type PolicyState, type Scope } from './policies';

/** Whose count a policy keeps, as the chips (short) and the quota panel (headings) name it. */
export const SCOPES: Record<Scope, { short: string; whose: string; heading: string; note?: string }> = {
  owner: { short: 'browser', whose: 'in this browser', heading: 'This browser' },
  address: { short: 'address', whose: 'from your address', heading: 'Your address' },
  network: {
    short: 'network',
    whose: 'on your network',
    heading: 'Your network',
    note: 'Addresses near yours: other people’s containers count here too.',
  },
  global: { short: 'Sprout', whose: 'on Sprout', heading: 'All of Sprout' },
};

const containers = (n: number) => `${n} container${n === 1 ? '' : 's'}`;

/** Each policy: its row in the quota panel, and why it refuses (a sentence with its numbers). */
const POLICY_WORDS: Record<string, { row: string; why: (limit: number) => string }> = {
  creates_per_address: { row: 'New this hour', why: (l) => `Your address may start ${containers(l)} an hour.` },
  creates_per_network: {
    row: 'New this hour',
    why: (l) => `Your network may start ${containers(l)} an hour, other people’s included.`,
  },
  pow_creates_per_address: {
    row: 'New without the puzzle',
    why: (l) => `Without the puzzle your address may start ${l} an hour; with the puzzle you may start one now.`,
  },
  live_per_owner: { row: 'Live', why: (l) => `You may have ${containers(l)} at once. Delete one to start another.` },
  live_per_address: { row: 'Live', why: (l) => `Your address may have ${containers(l)} at once, in every browser.` },
  live_per_network: { row: 'Live', why: (l) => `Your network may have ${containers(l)} at once, other people’s included.` },
  network_share: {
    row: 'Share of Sprout',
    why: (l) => `One network may hold ${l} of Sprout’s containers, other people’s included.`,
  },
  challenges_per_address: { row: 'Puzzles this minute', why: (l) => `Your address may ask for ${l} puzzle${l === 1 ? '' : 's'} a minute.` },
  capacity: { row: 'Running', why: (l) => `Sprout runs ${containers(l)} at once.` },
  places_per_address: {
    row: 'Places in the waiting line',
    why: (l) => `Sprout is full, and your address may hold ${l} place${l === 1 ? '' : 's'} in its waiting line.`,
  },
  places_per_network: {
    row: 'Places in the waiting line',
    why: (l) => `Sprout is full, and your network may hold ${l} place${l === 1 ? '' : 's'} in its waiting line, other people’s included.`,
  },
};

export const rowLabel = (p: PolicyState): string => POLICY_WORDS[p.name]?.row ?? p.description ?? p.name;

/** A live limit frees when one of its containers ends (or is deleted); a window when its oldest stamp leaves. */
export const isLive = (p: PolicyState): boolean => !p.window;

/** "opens at 22:12" (a window), "opens by 22:40" (a live limit: a container ends by then at the latest). */
export function opensPhrase(p: PolicyState, now = Date.now()): string {
  const at = opensAt(p, now);
  if (at == null) return isLive(p) ? 'opens when one is deleted' : 'opens soon';
  return `opens ${isLive(p) ? 'by' : 'at'} ${formatTimeOfDay(at)}`;
}

export interface Refusal {
  /** on the Create button: "Hourly limit reached — opens at 22:12" */
  button: string;
  /** under it, with a ticking clock (in no live region) */
  shown: string;
  /** heard once, when it starts: no ticking clock */
  announced: string;
}

/** What the page says of a limit that refuses a create now: which one, whose, when it opens. */
export function refusalWords(p: PolicyState & { limit: number }, now = Date.now()): Refusal {
  const title = POLICY_TITLES[p.name] ?? 'Limit reached';
  const why = POLICY_WORDS[p.name]?.why(p.limit) ?? p.description ?? '';
  const at = opensAt(p, now);
  const wait = at != null ? formatClock((at - now) / 1000) : null;
  const shownWhen = wait == null ? '' : isLive(p) ? ` One ends in ${wait} at the latest.` : ` Opens in ${wait}.`;
  const heardWhen =
    at == null ? '' : isLive(p) ? ` One ends by ${formatTimeOfDay(at)} at the latest.` : ` It opens again at ${formatTimeOfDay(at)}.`;
  return {
    button: `${title} — ${opensPhrase(p, now)}`,
    shown: `${why}${shownWhen}`,
    announced: `${title}. ${why}${heardWhen}`,
  };
}
