import { Gauge, Users } from 'lucide-react';
import type { OtherContainer } from '@/api/types';
import { Card } from '@/components/ui/card';
import { useNowMs, useServerNow } from '@/hooks/use-now';
import { cn } from '@/lib/cn';
import { formatClock, formatTimeOfDay } from '@/lib/time';
import { useQuota } from '../api/rate-limit';
import { used, type PolicyState, type Scope } from '../policies';
import { opensPhrase, rowLabel, SCOPES } from '../words';

const ORDER: Scope[] = ['owner', 'address', 'network', 'global'];
// The rows of each scope, in the order a visitor reads them; the rest of what the server sends
// (say, a new policy) follows its scope's rows.
const RANK = [
  'live_per_owner',
  'creates_per_address',
  'live_per_address',
  'pow_creates_per_address',
  'challenges_per_address',
  'places_per_address',
  'creates_per_network',
  'live_per_network',
  'network_share',
  'places_per_network',
  'capacity',
];

type Row = PolicyState & { limit: number; remaining: number };

function PolicyRow({ p, others, now }: { p: Row; others: number; now: number }) {
  const n = used(p);
  const closed = p.remaining <= 0 && p.name !== 'capacity';
  const of = `${n} of ${p.limit}`;
  // Read as a sentence: "4 of 20 live on your network".
  const said = `${of} ${rowLabel(p).toLowerCase()} ${SCOPES[p.scope ?? 'global'].whose}${others ? `, ${others} not in this browser` : ''}`;
  return (
    <li className="py-2" aria-label={closed ? `${said}: reached, ${opensPhrase(p, now)}` : said}>
      <div className="flex items-baseline justify-between gap-3 text-sm">
        <span className="min-w-0 text-slate-700 dark:text-slate-300">
          {rowLabel(p)}
          {others ? <span className="text-slate-500 dark:text-slate-400"> · {others} not in this browser</span> : null}
        </span>
        <span className={cn('shrink-0 font-mono tabular-nums', closed ? 'font-semibold text-amber-800 dark:text-amber-300' : 'text-slate-900 dark:text-white')}>
          {of}
        </span>
      </div>
      <div className="mt-1.5 h-1 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" aria-hidden>
        <div
          className={cn('h-full rounded-full', closed ? 'bg-amber-500' : 'bg-sky-600 dark:bg-sky-400')}
          style={{ width: `${Math.min(100, (n / Math.max(1, p.limit)) * 100)}%` }}
        />
      </div>
      {closed ? <p className="mt-1 text-xs font-medium text-amber-800 dark:text-amber-300">Reached: {opensPhrase(p, now)}</p> : null}
    </li>
  );
}

/** Others' live containers that count against this address or network: a count, and when each ends. Nothing else. */
function Others({ others, now }: { others: OtherContainer[]; now: number }) {
  const fromAddress = others.filter((o) => o.scope === 'address');
  const fromNetwork = others.filter((o) => o.scope === 'network');
  const group = (list: OtherContainer[], lead: string, note: string) =>
    list.length ? (
      <div className="mt-3">
        <p className="text-sm font-medium text-slate-800 dark:text-slate-200">{lead}</p>
        <p className="mt-0.5 text-xs text-slate-600 dark:text-slate-400">{note}</p>
        <ul className="mt-2 flex flex-wrap gap-1.5" aria-label={lead}>
          {list.map((o, i) => (
            <li
              key={`${o.expires_at}-${i}`}
              className="rounded-md bg-slate-100 px-2 py-0.5 font-mono text-xs tabular-nums text-slate-800 dark:bg-slate-800 dark:text-slate-200"
            >
              ends {formatTimeOfDay(o.expires_at * 1000)}
              <span className="text-slate-600 dark:text-slate-400"> · {formatClock(o.expires_at - now)}</span>
            </li>
          ))}
        </ul>
      </div>
    ) : null;
  if (!others.length) return null;
  return (
    <section aria-labelledby="others-title" className="mt-4 rounded-xl border border-slate-200 bg-slate-50/70 p-3 dark:border-slate-800 dark:bg-slate-950/40">
      <h3 id="others-title" className="flex items-center gap-2 text-sm font-semibold text-slate-900 dark:text-white">
        <Users className="h-4 w-4 text-slate-500 dark:text-slate-400" aria-hidden />
        Not in this browser: {others.length} live
      </h3>
      {group(
        fromAddress,
        `${fromAddress.length} from your address`,
        'Started in another browser, or before this one lost its cookie. Open Sprout where you started them to see them.',
      )}
      {group(fromNetwork, `${fromNetwork.length} from your network`, 'Other people near you: they count against your network’s limits.')}
    </section>
  );
}

/** Every limit of this visitor by whose count it is, and what counts against them from elsewhere. */
export function QuotaPanel() {
  const { loaded, policies, others } = useQuota();
  const nowMs = useNowMs();
  const now = useServerNow();
  const rows = Object.values(policies)
    .filter((p): p is Row => p.limit != null && p.remaining != null && !!p.scope)
    .sort((a, b) => (RANK.indexOf(a.name) + 1 || 99) - (RANK.indexOf(b.name) + 1 || 99));
  const othersAt = (p: Row) => (p.name === 'live_per_address' ? others.filter((o) => o.scope === 'address').length : 0);
  return (
    <Card id="limits" className="p-4 sm:p-5" aria-labelledby="limits-title">
      <h2 id="limits-title" className="flex items-center gap-2 text-base font-semibold tracking-tight text-slate-900 dark:text-white">
        <Gauge className="h-5 w-5 text-sky-700 dark:text-sky-400" aria-hidden />
        Your limits
      </h2>
      <p className="mt-0.5 text-sm text-slate-600 dark:text-slate-400">Each limit counts for one of these; the tightest one decides.</p>
      {!loaded && !rows.length ? (
        <div className="mt-3 h-48 rounded-xl bg-slate-100 dark:bg-slate-800/60" aria-hidden />
      ) : (
        // Two columns that flow (not a grid): a short group sits on top of the next, no hole beside a long one.
        <div className="mt-3 gap-x-6 sm:columns-2">
          {ORDER.map((scope) => {
            const mine = rows.filter((p) => p.scope === scope);
            if (!mine.length) return null;
            return (
              <section key={scope} aria-label={SCOPES[scope].heading} className="min-w-0 break-inside-avoid pb-3">
                <h3 className="text-xs font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">{SCOPES[scope].heading}</h3>
                {SCOPES[scope].note ? <p className="mt-0.5 text-xs text-slate-600 dark:text-slate-400">{SCOPES[scope].note}</p> : null}
                <ul className="divide-y divide-slate-100 dark:divide-slate-800">
                  {mine.map((p) => (
                    <PolicyRow key={p.name} p={p} others={othersAt(p)} now={nowMs} />
                  ))}
                </ul>
              </section>
            );
          })}
        </div>
      )}
      <Others others={others} now={now} />
    </Card>
  );
}
