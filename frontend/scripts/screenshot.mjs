// Visual check of the built page: serves dist/, answers the API from fixtures (test-only, via
// page.route), and saves screenshots at 390x844 and 1440x900, light and dark, into test-artifacts/.
// Usage: npm run build && node scripts/screenshot.mjs [scenario ...]
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const out = join(root, 'test-artifacts');
if (!existsSync(join(dist, 'index.html'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
mkdirSync(out, { recursive: true });

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let file = normalize(join(dist, decodeURIComponent(url.pathname)));
  if (!file.startsWith(dist) || !existsSync(file) || statSync(file).isDirectory()) file = join(dist, 'index.html');
  res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});

// ---------- fixtures (test-only) ----------
const now = () => Date.now() / 1000;
const templates = {
  templates: [
    { name: 'nginx', title: 'Static web server', description: 'nginx serving a welcome page. Good for trying the URL and TLS.', image: 'nginxinc/nginx-unprivileged:1.27-alpine@sha256:1f3c', port: 8080, cpu: '250m', memory: '128Mi' },
    { name: 'python', title: 'Python HTTP', description: 'A tiny Python web server that echoes your request back, headers and all.', image: 'python:3.12-slim@sha256:9a1b', port: 8000, cpu: '500m', memory: '256Mi' },
    { name: 'jupyter', title: 'Jupyter notebook', description: 'A minimal notebook with NumPy, ready in the browser. Heavier; takes a few seconds more.', image: 'quay.io/jupyter/minimal-notebook:2024-11@sha256:77ee', port: 8888, cpu: '1', memory: '1Gi' },
  ],
  cluster: { simulated: true },
};
function rateLimit(createsRemaining = 3, liveRemaining = 2) {
  return {
    policies: [
      { name: 'creates_per_address', limit: 5, remaining: createsRemaining, reset: 1194, window: 3600, scope: 'address', description: 'Containers created per hour from your address' },
      { name: 'live_per_address', limit: 3, remaining: liveRemaining, reset: 0, window: 0, scope: 'address', description: 'Live containers from your address' },
      { name: 'live_per_owner', limit: 3, remaining: liveRemaining, reset: 0, window: 0, scope: 'owner', description: 'Live containers you own' },
      { name: 'challenges_per_address', limit: 20, remaining: 18, reset: 42, window: 60, scope: 'address', description: 'Puzzles per minute' },
    ],
  };
}
function record(id, state, extra = {}) {
  const t = now();
  return { id, template: 'nginx', state, phase: null, url: null, created_at: t - 30, updated_at: t - 5, started_at: null, expires_at: t + 3570, error: null, ...extra };
}
function mixedList() {
  const t = now();
  return [
    record('c-7f3a9e21', 'pending', { template: 'jupyter', phase: 'creating', created_at: t - 7, expires_at: t + 3593 }),
    record('c-2b81d4c0', 'running', { template: 'python', url: 'https://c-2b81d4c0.sprout.example.dev', created_at: t - 860, started_at: t - 851, expires_at: t + 2740 }),
    record('c-91e0aa57', 'failed', { template: 'jupyter', error: 'Image pull failed: the registry did not answer in time.', created_at: t - 400, expires_at: t + 3200 }),
    record('c-5c2f8b13', 'deleting', { created_at: t - 2000, started_at: t - 1990, expires_at: t + 1600 }),
    record('c-0d4e6f88', 'deleted', { created_at: t - 3000, updated_at: t - 600, started_at: t - 2990, expires_at: t + 600 }),
  ];
}

async function makePuzzle(page) {
  return page.evaluate(() => {
    const W = 320, H = 160, S = 48, X = 196, Y = 58;
    const bg = document.createElement('canvas');
    bg.width = W; bg.height = H;
    const g = bg.getContext('2d');
    const grad = g.createLinearGradient(0, 0, W, H);
    grad.addColorStop(0, '#1e3a5f'); grad.addColorStop(0.5, '#3b7a57'); grad.addColorStop(1, '#d9a441');
    g.fillStyle = grad; g.fillRect(0, 0, W, H);
    let seed = 7; const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 40; i++) {
      g.fillStyle = `hsla(${Math.floor(rnd() * 360)},60%,${40 + rnd() * 30}%,0.35)`;
      g.beginPath(); g.arc(rnd() * W, rnd() * H, 6 + rnd() * 30, 0, Math.PI * 2); g.fill();
    }
    const shape = (ctx, x, y) => {
      ctx.beginPath();
      ctx.moveTo(x, y); ctx.lineTo(x + S * 0.38, y);
      ctx.arc(x + S / 2, y, S * 0.13, Math.PI, 0);
      ctx.lineTo(x + S, y); ctx.lineTo(x + S, y + S * 0.38);
      ctx.arc(x + S, y + S / 2, S * 0.13, -Math.PI / 2, Math.PI / 2);
      ctx.lineTo(x + S, y + S); ctx.lineTo(x, y + S); ctx.closePath();
    };
    const clean = document.createElement('canvas'); clean.width = W; clean.height = H;
    clean.getContext('2d').drawImage(bg, 0, 0);
    // piece
    const pc = document.createElement('canvas'); pc.width = S + 8; pc.height = S;
    const p = pc.getContext('2d');
    p.save(); shape(p, 0, 0); p.clip(); p.drawImage(clean, X, Y, S + 8, S, 0, 0, S + 8, S); p.restore();
    p.strokeStyle = 'rgba(255,255,255,0.85)'; p.lineWidth = 1.5; shape(p, 0.75, 0.75); p.stroke();
    // notch and decoys
    for (const dx of [X, 40, 110]) {
      g.save(); shape(g, dx, Y); g.fillStyle = dx === X ? 'rgba(0,0,0,0.45)' : 'rgba(0,0,0,0.28)'; g.fill();
      g.strokeStyle = 'rgba(255,255,255,0.6)'; g.lineWidth = 1; g.stroke(); g.restore();
    }
    return { background: bg.toDataURL('image/jpeg', 0.8), piece: pc.toDataURL('image/png'), piece_size: S + 8, piece_y: Y };
  });
}

const VIEWPORTS = { mobile: { width: 390, height: 844 }, desktop: { width: 1440, height: 900 } };

/**
 * One scenario = api options + optional actions after load.
 * api: { containers, rateLimit, verify: 'ok'|'fail'|'hang', create: {status, body, headers}, powDifficulty, challengeMode }
 */
async function shoot(name, { api = {}, act, schemes = ['light', 'dark'], viewports = ['mobile', 'desktop'], fullPage = false }) {
  for (const vp of viewports) {
    for (const scheme of schemes) {
      const context = await browser.newContext({ viewport: VIEWPORTS[vp], deviceScaleFactor: vp === 'mobile' ? 2 : 1, colorScheme: scheme, reducedMotion: 'reduce', hasTouch: vp === 'mobile', isMobile: vp === 'mobile' });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
      const puzzlePage = await context.newPage();
      const puzzle = await makePuzzle(puzzlePage);
      await puzzlePage.close();
      let list = api.containers ?? [];
      let limits = api.rateLimit ?? rateLimit();
      const json = (route, status, body, headers = {}) =>
        route.fulfill({ status, contentType: 'application/json', headers: { 'RateLimit-Policy': '"creates_per_address";q=5;w=3600', ...headers }, body: JSON.stringify(body) });
      await page.route('**/containers/templates', (r) => json(r, 200, templates));
      await page.route('**/rate-limit', (r) => json(r, 200, limits));
      await page.route(/\/containers(\?.*)?$/, async (r) => {
        const req = r.request();
        if (req.method() === 'POST') {
          const c = api.create ?? { status: 202, body: record('c-new00001', 'pending', { phase: 'queued' }) };
          if (c.status === 202) list = [c.body, ...list];
          if (c.status === 429) limits = rateLimit(0, 2);
          return json(r, c.status, c.body, c.headers);
        }
        return json(r, 200, { containers: list }, { ETag: `"v${list.length}"` });
      });
      await page.route('**/captcha/request', async (r) => {
        const body = JSON.parse(r.request().postData() ?? '{}');
        const pow = { salt: 'c0ffee-screenshot-salt', difficulty: body.mode === 'pow' ? api.powDifficulty ?? 22 : 8 };
        if (body.mode === 'pow') return json(r, 200, { challenge_id: 'ch-pow', mode: 'pow', width: 320, height: 160, background: null, piece: null, piece_size: null, piece_y: null, pow, expires_at: now() + 120 });
        return json(r, 200, { challenge_id: `ch-${Math.random().toString(36).slice(2)}`, mode: 'slider', width: 320, height: 160, ...puzzle, pow, expires_at: now() + 120 });
      });
      await page.route('**/captcha/verify', async (r) => {
        if (api.verify === 'hang') return; // never answers
        if (api.verify === 'fail') return json(r, 403, { error: { code: 'captcha_failed', message: 'Verification failed.' } });
        return json(r, 200, { token: 'pass-token', expires_at: now() + 120 });
      });
      await page.goto(base, { waitUntil: 'networkidle' });
      await page.waitForTimeout(300);
      if (act) await act(page, vp);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) console.warn(`  ${name}-${vp}-${scheme}: page is ${overflow}px wider than the viewport`);
      const file = join(out, `${name}-${vp}-${scheme}.png`);
      await page.screenshot({ path: file, fullPage });
      if (fullPage) await page.screenshot({ path: file.replace('.png', '-fold.png') });
      if (errors.length) console.warn(`  ${name}-${vp}-${scheme}: page errors:\n    ${errors.join('\n    ')}`);
      console.log(`saved ${file}`);
      await context.close();
    }
  }
}

async function openCaptcha(page) {
  await page.getByRole('button', { name: /^Create / }).click();
  await page.getByRole('slider').waitFor();
  await page.waitForTimeout(200);
}

async function dragSlider(page, dx, release = true) {
  const handle = page.getByRole('slider');
  const box = await handle.boundingBox();
  const x0 = box.x + box.width / 2;
  const y0 = box.y + box.height / 2;
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) {
    await page.mouse.move(x0 + (dx * i) / 20, y0 + Math.sin(i / 3) * 2);
    await page.waitForTimeout(16);
  }
  if (release) await page.mouse.up();
}

const scenarios = {
  empty: () => shoot('empty', { api: { containers: [] } }),
  list: () => shoot('list', { api: { containers: mixedList(), rateLimit: rateLimit(2, 1) }, fullPage: true }),
  captcha: () =>
    shoot('captcha', {
      api: { containers: mixedList().slice(0, 2) },
      act: async (page) => {
        await openCaptcha(page);
        await dragSlider(page, 90, false);
      },
    }),
  'captcha-failed': () =>
    shoot('captcha-failed', {
      api: { verify: 'fail' },
      schemes: ['light'],
      act: async (page) => {
        await openCaptcha(page);
        await dragSlider(page, 60);
        await page.waitForTimeout(250);
      },
    }),
  pow: () =>
    shoot('pow', {
      api: { verify: 'hang' },
      act: async (page) => {
        await openCaptcha(page);
        await page.getByRole('button', { name: /can't use the puzzle/i }).click();
        await page.waitForTimeout(1500);
      },
    }),
  'error-429': () =>
    shoot('error-429', {
      api: {
        containers: mixedList().slice(1, 3),
        create: {
          status: 429,
          headers: { 'Retry-After': '1194', RateLimit: '"creates_per_address";r=0;t=1194' },
          body: { error: { code: 'rate_limited', message: 'Too many containers created from this address.', details: { policy: 'creates_per_address', retry_after: 1194 } } },
        },
      },
      act: async (page) => {
        await openCaptcha(page);
        await dragSlider(page, 120);
        await page.getByText(/Slow down|Sprout is full/).first().waitFor({ timeout: 8000 });
        await page.waitForTimeout(300);
      },
    }),
  'error-503': () =>
    shoot('error-503', {
      schemes: ['dark'],
      api: {
        create: { status: 503, headers: { 'Retry-After': '45' }, body: { error: { code: 'capacity_full', message: 'All container slots are in use.', details: { retry_after: 45 } } } },
      },
      act: async (page) => {
        await openCaptcha(page);
        await dragSlider(page, 120);
        await page.getByText(/Slow down|Sprout is full/).first().waitFor({ timeout: 8000 });
        await page.waitForTimeout(300);
      },
    }),
  offline: () =>
    shoot('offline', {
      schemes: ['light'],
      api: { containers: mixedList().slice(0, 2) },
      act: async (page) => {
        await page.context().setOffline(true);
        await page.waitForTimeout(2500);
      },
    }),
  delete: () =>
    shoot('delete', {
      schemes: ['dark'],
      api: { containers: mixedList().slice(1, 2) },
      act: async (page) => {
        await page.getByRole('button', { name: /Delete container/ }).first().click();
        await page.waitForTimeout(200);
      },
    }),
};

const wanted = process.argv.slice(2);
try {
  for (const [name, run] of Object.entries(scenarios)) {
    if (wanted.length && !wanted.includes(name)) continue;
    await run();
  }
} finally {
  await browser.close();
  server.close();
}
