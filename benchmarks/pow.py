"""The page's proof of work in Debian's Chromium at phone size, and what each level costs a person.

    python -m benchmarks.pow [--seconds 2] [--repeats 5]

It runs the page's own code: the worker chunk the build ships (`frontend/dist/assets/
pow.worker-*.js`, what the page starts for every challenge; `make bootstrap-test` builds it)
and `frontend/src/features/captcha/pow/solve.ts` built by Vite as a module, on a blank page of
the same origin, in /usr/bin/chromium (headless, 390x844). The searches never end (64 bits)
and are timed over `--seconds`, `--repeats` times, interleaved; figures are medians.

Four rates: the worker (the page's path); the module on the page's main thread (the page's
fallback runner); that main thread with 4x CPU throttling (CDP Emulation.setCPUThrottlingRate,
as Lighthouse's mobile profile), which stands for a phone: Chromium throttles only a page's
main thread (a worker's DevTools session answers "Operation is only supported for pages, not
workers"), so the phone figure runs the same code there. The baseline, in the same run:
Python's hashlib on one core (what a bot runs natively; `tests`' and the benchmarks' solver).

Then each level of the default difficulty table (`CaptchaSettings`): the expected wait (the
mean of the geometric number of tries, 2**bits hashes) and the p90 (ln 10 = 2.3 times that) on
the desktop and the phone figures, and whether the cap keeps a person's expected wait at the
top level within 5 s on the phone figure measured now (`shared.settings.MAX_PERSON_BITS` was
set from this benchmark's figure, recorded as PHONE_HASHES_PER_SECOND).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import http.server
import math
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from shared.settings import (
    MAX_PERSON_BITS,
    PERSON_WAIT_SECONDS,
    PHONE_HASHES_PER_SECOND,
    CaptchaSettings,
)
from tests.browser_driver import CHROMIUM, CHROMIUM_ARGS, MOBILE

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
SALT = "benchmark-salt-Zm9yLXRoZS1iZW5jaA"  # the length of the salts the server issues
NEVER = 64  # bits no search finds in a benchmark's time

# solve.ts as the page's build makes it (Vite, the page's target), printed as one ES module.
VITE_BUILD = """
import { build } from 'vite';
const out = await build({
  configFile: false, logLevel: 'silent',
  build: {
    write: false, target: 'es2020',
    lib: { entry: 'src/features/captcha/pow/solve.ts', formats: ['es'], fileName: 'solve' },
  },
});
process.stdout.write((Array.isArray(out) ? out[0] : out).output[0].code);
"""

# The worker as the page runs it: hashes counted from its progress messages (every 2**15).
IN_WORKER = """async ([url, salt, bits, seconds]) => {
  const worker = new Worker(url, { type: 'module', name: 'sprout-pow' });
  const marks = [];
  return await new Promise((resolve, reject) => {
    worker.onerror = (event) => reject(new Error(event.message));
    worker.onmessage = (event) => {
      if (event.data.type !== 'progress') return reject(new Error(JSON.stringify(event.data)));
      marks.push([performance.now(), event.data.attempts]);
      const [first, last] = [marks[0], marks[marks.length - 1]];  // from the first: warmed up
      if (last[0] - first[0] >= seconds * 1000) {
        worker.terminate();
        resolve((last[1] - first[1]) / (last[0] - first[0]) * 1000);
      }
    };
    worker.postMessage({ salt, difficulty: bits });
  });
}"""

# The module on the page's main thread, in slices of 2**15 tries (the first one warms up).
ON_MAIN_THREAD = """async ([salt, bits, seconds]) => {
  const { solvePow } = await import('/solve.js');
  const slice = 1 << 15;
  solvePow(salt, bits, { maxAttempts: slice });
  const started = performance.now();
  let tries = 0;
  while (performance.now() - started < seconds * 1000) {
    if (solvePow(salt, bits, { maxAttempts: slice }) !== null) throw new Error('found');
    tries += slice;
  }
  return tries / (performance.now() - started) * 1000;
}"""


def built_worker() -> bytes:
    found = glob.glob(str(FRONTEND / "dist" / "assets" / "pow.worker-*.js"))
    if not found:
        raise SystemExit("No built page: run `make bootstrap-test` (it builds frontend/dist).")
    return Path(max(found, key=os.path.getmtime)).read_bytes()


def built_module() -> bytes:
    return subprocess.run(
        ["node", "--input-type=module", "-e", VITE_BUILD],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
    ).stdout


@contextmanager
def serving(files: dict[str, tuple[str, bytes]]) -> Iterator[str]:
    """An origin for the page: each path answers its (content type, body) from memory."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body = files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def native_rate(seconds: float) -> float:
    """Python's hashlib, the bots' way (`shared.captcha.pow.solve`), hashes per CPU second."""
    prefix = hashlib.sha256(f"{SALT}:".encode())
    started = time.process_time()
    tries = 0
    while time.process_time() - started < seconds:
        for n in range(tries, tries + 4096):
            attempt = prefix.copy()
            attempt.update(b"%d" % n)
            attempt.digest()
        tries += 4096
    return tries / (time.process_time() - started)


def measure(page: Page, seconds: float, repeats: int, native: bool) -> dict[str, list[float]]:
    cdp = page.context.new_cdp_session(page)

    def throttled(rate: int, run: Callable[[], float]) -> float:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
        try:
            return run()
        finally:
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})

    rates: dict[str, list[float]] = {"worker": [], "main": [], "phone": [], "native": []}
    for _ in range(repeats):
        rates["worker"].append(page.evaluate(IN_WORKER, ["/pow.worker.js", SALT, NEVER, seconds]))
        rates["main"].append(page.evaluate(ON_MAIN_THREAD, [SALT, NEVER, seconds]))
        rates["phone"].append(
            throttled(4, lambda: page.evaluate(ON_MAIN_THREAD, [SALT, NEVER, seconds]))
        )
        if native:
            rates["native"].append(native_rate(seconds))
    return rates


def waits(bits: int, rate: float) -> tuple[float, float]:
    """Expected and p90 seconds to find a nonce at `bits`: tries are geometric, p = 2**-bits."""
    p = 2.0**-bits
    p90_tries = math.ceil(math.log(0.1) / math.log1p(-p))
    return 2**bits / rate, p90_tries / rate


def levels(settings: CaptchaSettings) -> list[tuple[str, int]]:
    """Each level of the default table, as (what reaches it, bits)."""
    rows = []
    for mode, path in (("slider", "slider"), ("pow", "proof of work only")):
        base = settings.base(mode)
        rows.append((f"{path}, capacity use below {settings.load_levels[0].at:g}", base))
        for level in settings.load_levels:
            bits = min(settings.max_difficulty, base + level.bits)
            rows.append((f"{path}, capacity use from {level.at:g}", bits))
    failures = ", ".join(
        f"+{level.bits} at {level.at:g}/{network.at:g}"
        for level, network in zip(
            settings.failure_levels, settings.network_failure_levels, strict=False
        )
    )
    rows.append((f"either path with recent failures (address/network: {failures})", -1))
    rows.append(("the cap (max_difficulty), both paths", settings.max_difficulty))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings of each kind")
    options = parser.parse_args()
    files = {
        "/": ("text/html", b"<!doctype html><title>proof-of-work benchmark</title>"),
        "/pow.worker.js": ("text/javascript", built_worker()),
        "/solve.js": ("text/javascript", built_module()),
    }
    with serving(files) as origin, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": MOBILE["width"], "height": MOBILE["height"]})
            page.goto(origin + "/")
            rates = measure(page, options.seconds, options.repeats, native=True)
            version = browser.version
        finally:
            browser.close()
    median = {name: statistics.median(values) for name, values in rates.items()}
    native = median["native"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"proof of work in Debian's Chromium {version} at {MOBILE['width']}x{MOBILE['height']},"
        f" the page's own code; {options.repeats} x {options.seconds:g} s each,"
        f" machine load average {load} on {os.cpu_count()} cores"
    )
    names = {
        "worker": "worker (the page's path)",
        "main": "main thread (the fallback runner)",
        "phone": "main thread, 4x CPU throttling: phone",
        "native": "baseline: Python hashlib, one core",
    }
    for name, title in names.items():
        values = rates[name]
        print(
            f"  {title:<40} {median[name]:>11,.0f} hashes/s"
            f"  (range {min(values):,.0f}..{max(values):,.0f}; {median[name] / native:.2f}x native)"
        )
    desktop, phone = median["worker"], median["phone"]
    settings = CaptchaSettings()
    print("levels of the default table: expected / p90 wait (geometric tries, 2**bits on average)")
    print(f"  {'':<66} {'bits':>4}  {'desktop worker':>17}  {'phone (4x throttled)':>20}")
    for reached_by, bits in levels(settings):
        if bits < 0:
            print(f"  {reached_by}")
            continue
        d_mean, d_p90 = waits(bits, desktop)
        p_mean, p_p90 = waits(bits, phone)
        print(
            f"  {reached_by:<66} {bits:>4}  {d_mean:>6.2f} s / {d_p90:>5.2f} s"
            f"  {p_mean:>8.2f} s / {p_p90:>6.2f} s"
        )
    top_mean, top_p90 = waits(MAX_PERSON_BITS, phone)
    verdict = "meets it" if top_mean <= PERSON_WAIT_SECONDS else "MISSES it"
    print(
        f"  cap {MAX_PERSON_BITS} bits: expected {top_mean:.2f} s on the phone figure"
        f" (goal <= {PERSON_WAIT_SECONDS:g} s, {verdict}; p90 {top_p90:.2f} s); recorded phone"
        f" figure {PHONE_HASHES_PER_SECOND:,} hashes/s = {PHONE_HASHES_PER_SECOND / phone:.2f}x"
        f" today's; {2**MAX_PERSON_BITS / native:.2f} s of a bot's CPU"
    )


if __name__ == "__main__":
    main()
