"""The page under Lighthouse: performance, accessibility, best practices and SEO.

    python -m benchmarks.page [--runs 3]

Starts the whole stack as `make dev` does and runs Lighthouse (the npm package, installed into
benchmarks/lighthouse on first use) in Debian's Chromium against the page, `--runs` times in
each mode: mobile (Lighthouse's default: a mid-range phone on a slow 4G link, simulated) and
desktop. Each visit is a new visitor (Lighthouse clears storage), so the page shows its first
screen: templates, an empty list and the quota. Prints the median of each category score and
each metric per mode; the last line is the summary:

    page: mobile_perf=<n> desktop_perf=<n> cls=<max> lcp_mobile_s=<s> tbt_mobile_ms=<ms> a11y=<min>

where cls is the larger of the two modes' median CLS and a11y the smaller accessibility score.
Goals: mobile perf >= 90, desktop 100, CLS <= 0.02, mobile LCP <= 2.0 s, TBT <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.stack_driver import RunningStack

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE_DIR = Path(__file__).resolve().parent / "lighthouse"
LIGHTHOUSE = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
# (audit id, label, scale to the unit printed)
METRICS = (
    ("first-contentful-paint", "fcp_s", 1 / 1000),
    ("largest-contentful-paint", "lcp_s", 1 / 1000),
    ("total-blocking-time", "tbt_ms", 1),
    ("cumulative-layout-shift", "cls", 1),
    ("speed-index", "si_s", 1 / 1000),
    ("interactive", "tti_s", 1 / 1000),
)
MODES = ("mobile", "desktop")


def install_lighthouse() -> None:
    """`npm ci` the pinned Lighthouse once (it is not part of the page's own packages)."""
    if LIGHTHOUSE.exists():
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=LIGHTHOUSE_DIR, check=True
    )


def lighthouse(url: str, mode: str, out: Path) -> dict[str, Any]:
    """One Lighthouse run; its JSON report (lhr)."""
    command = [
        str(LIGHTHOUSE), url, "--output=json", f"--output-path={out}", "--quiet",
        f"--chrome-flags={CHROME_FLAGS}", f"--only-categories={','.join(CATEGORIES)}",
    ]  # fmt: skip
    if mode == "desktop":
        command.append("--preset=desktop")
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM})
    report: dict[str, Any] = json.loads(out.read_text())
    if report.get("runtimeError"):
        raise RuntimeError(f"Lighthouse failed: {report['runtimeError']}")
    return report


def summarize(reports: list[dict[str, Any]]) -> dict[str, float]:
    """Medians of the category scores (0-100) and metrics over the runs of one mode."""
    figures: dict[str, float] = {}
    for category in CATEGORIES:
        scores = [report["categories"][category]["score"] * 100 for report in reports]
        figures[category] = statistics.median(scores)
    for audit, label, scale in METRICS:
        values = [report["audits"][audit]["numericValue"] * scale for report in reports]
        figures[label] = statistics.median(values)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per mode")
    options = parser.parse_args()
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        raise SystemExit("frontend/dist is missing: build the page (make bootstrap)")
    install_lighthouse()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sprout-page-") as scratch:
        stack = RunningStack(Path(scratch)).start()
        try:
            for mode in MODES:
                reports = [
                    lighthouse(stack.url, mode, Path(scratch) / f"{mode}-{run}.json")
                    for run in range(options.runs)
                ]
                results[mode] = summarize(reports)
                shown = " ".join(
                    f"{name}={value:.0f}" if name in CATEGORIES else f"{name}={value:.3g}"
                    for name, value in results[mode].items()
                )
                print(f"{mode} (median of {options.runs}): {shown}", flush=True)
        finally:
            stack.stop()
    mobile, desktop = results["mobile"], results["desktop"]
    print(
        f"page: mobile_perf={mobile['performance']:.0f} desktop_perf={desktop['performance']:.0f}"
        f" cls={max(mobile['cls'], desktop['cls']):.3f} lcp_mobile_s={mobile['lcp_s']:.2f}"
        f" tbt_mobile_ms={mobile['tbt_ms']:.0f}"
        f" a11y={min(mobile['accessibility'], desktop['accessibility']):.0f}"
    )


if __name__ == "__main__":
    main()
