// Prints the gzipped size of the production JavaScript and fails if it exceeds the budgets: all
// of it, and the first load (what index.html asks for before any chunk loaded on first use).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 150;
const FIRST_LOAD_BUDGET_KB = 72;
const dist = new URL('../dist/', import.meta.url).pathname;
const dir = join(dist, 'assets');
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const firstLoad = new Set([...html.matchAll(/\/assets\/([^"']+\.js)/g)].map((m) => m[1]));
const files = readdirSync(dir).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
let jsTotal = 0;
let firstTotal = 0;
const rows = files.map((f) => {
  const buf = readFileSync(join(dir, f));
  const gz = gzipSync(buf, { level: 9 }).length;
  if (f.endsWith('.js')) jsTotal += gz;
  if (firstLoad.has(f)) firstTotal += gz;
  return { file: f, raw: statSync(join(dir, f)).size, gz, first: firstLoad.has(f) };
});
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
for (const r of rows) console.log(`  ${r.file.padEnd(40)} ${kb(r.raw).padStart(10)}  gzip ${kb(r.gz).padStart(9)}${r.first ? '  first load' : ''}`);
console.log(`JS total (gzip): ${kb(jsTotal)} of ${BUDGET_KB} KB budget; first load ${kb(firstTotal)} of ${FIRST_LOAD_BUDGET_KB} KB`);
if (jsTotal > BUDGET_KB * 1024) {
  console.error(`JS bundle is over budget by ${kb(jsTotal - BUDGET_KB * 1024)}`);
  process.exit(1);
}
if (firstTotal >= FIRST_LOAD_BUDGET_KB * 1024) {
  console.error(`The first load is over budget by ${kb(firstTotal - FIRST_LOAD_BUDGET_KB * 1024)}`);
  process.exit(1);
}
