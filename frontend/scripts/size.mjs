// Prints the gzipped size of the production JavaScript and fails if it exceeds the budget.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 150;
const dir = new URL('../dist/assets/', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
let jsTotal = 0;
const rows = files.map((f) => {
  const buf = readFileSync(join(dir, f));
  const gz = gzipSync(buf, { level: 9 }).length;
  if (f.endsWith('.js')) jsTotal += gz;
  return { file: f, raw: statSync(join(dir, f)).size, gz };
});
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
for (const r of rows) console.log(`  ${r.file.padEnd(40)} ${kb(r.raw).padStart(10)}  gzip ${kb(r.gz).padStart(9)}`);
console.log(`JS total (gzip): ${kb(jsTotal)} of ${BUDGET_KB} KB budget`);
if (jsTotal > BUDGET_KB * 1024) {
  console.error(`JS bundle is over budget by ${kb(jsTotal - BUDGET_KB * 1024)}`);
  process.exit(1);
}
