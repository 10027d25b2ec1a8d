"""Honest visitors while a bot farm attacks, on the local stack: the new rules against today's.

    python -m benchmarks.abuse [--duration 60] [--arrivals 0.5] [--capacity 30] [--seed 1]

Three runs, each on its own local stack (`tests.stack_driver.RunningStack`, the simulated
cluster, capacity 30, containers living 60 s, a worker job kept waiting for work so no run
pays the scaler's cold starts), with the same honest crowd (same seed):

    new rules      the defaults: limits per network as well as per address, the waiting line
    today's rules  the network limits and the line switched off by settings (a network may
                   hold the whole capacity and make any number of creates; full is 503)
    no bots        the new rules and the honest crowd alone: the honest wait's baseline

The honest crowd: visitors arrive at random (Poisson, `--arrivals` a second, for `--duration`
s), each from its own address, spread over 40 networks. Each solves the puzzle as a person
does (the human drag model; the answer read from Redis, where a person reads it off the
picture), creates one container, keeps it 10 to 40 s, deletes it. Refused (429, or 503 when
full) they try again when Retry-After says, at most 10 s later; they give up `--patience` s
after the click. Success: running within that patience. The wait: click to running.

The bot farm: 3 networks x 50 addresses, each address a bot re-creating as fast as the limits
allow: it solves every challenge (the answer read from Redis: the picture is not its obstacle
here) with native proof of work (hashlib, in a pool of processes whose CPU seconds are
counted), keeps every container until it expires, sleeps until Retry-After when refused
(keeping its pass, which a refusal does not use up), and keeps any place it holds in the line
by checking it as the page does. The bots start `--warm-up` s before the honest crowd and
attack until its last visitor is done.

Many clients on one machine: every address of 127.0.0.0/8 is this machine's loopback, so a
client socket bound to 127.a.b.c (before it connects to the gateway on 127.0.0.1) reaches the
gateway from 127.a.b.c. The gateway sets X-Real-Ip from the socket's peer, as Traefik does,
and the functions believe it because the gateway's own address is their trusted proxy
(SPROUT_TRUSTED_PROXIES=127.0.0.1/32, as `deploy.local` sets it): nothing is forged, every
request goes the production path, and each /24 of 127/8 is a network of its own.

Figures per run: honest success rate, honest wait p50/p95, the bots' share of capacity (slots
held by bots / capacity, sampled every 0.25 s while the honest crowd arrives: time-weighted),
and the bots' CPU seconds of proof of work per container-hour they held. Goals with the new
rules: honest success >= 0.95, bots' share <= 0.30, honest p95 <= 2x the run without bots.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
from requests.adapters import HTTPAdapter

from shared import keys
from shared.captcha import pow
from tests.captcha_bots import human_drag, payload
from tests.stack_driver import RunningStack, Visitor

LIFETIME = 60  # s: the shortest a container may live; bots keep theirs this long
HONEST_NETWORKS = 40
BOT_NETWORKS, BOTS_PER_NETWORK = 3, 50
RETRY_CAP = 10.0  # s: a refused person tries again at most this much later
POLL = 0.5  # s: how often a page checks a pending container
SAMPLE = 0.25  # s: how often the slots held are sampled

TODAY = {  # the network limits and the line off
    "SPROUT_LIMIT_CREATES_PER_NETWORK": "1000000",
    "SPROUT_LIMIT_LIVE_PER_NETWORK": "1000000",
    "SPROUT_LIMIT_NETWORK_SHARE_PERCENT": "100",
    "SPROUT_LIMIT_LINE_LENGTH": "0",
}


class SourceAddress(HTTPAdapter):
    """Connections that leave from one loopback address (module docstring)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(pool_maxsize=2)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddress(address))
    return session


def honest_address(index: int) -> str:
    return f"127.20.{index % HONEST_NETWORKS}.{10 + index // HONEST_NETWORKS}"


def bot_addresses() -> list[str]:
    return [
        f"127.66.{network}.{host}"
        for network in range(1, BOT_NETWORKS + 1)
        for host in range(1, BOTS_PER_NETWORK + 1)
    ]


def solve_natively(salt: str, bits: int) -> tuple[str, float]:
    """The bots' proof of work (in a pool process): the nonce and the CPU seconds it took."""
    started = time.process_time()
    nonce = pow.solve(salt, bits)
    return nonce, time.process_time() - started


@dataclass(frozen=True)
class Arrival:
    at: float  # s after the honest crowd starts
    hold: float  # s the visitor keeps the container


def honest_crowd(seed: int, duration: float, rate: float) -> list[Arrival]:
    rng = random.Random(seed)
    arrivals, at = [], rng.expovariate(rate)
    while at < duration:
        arrivals.append(Arrival(at, rng.uniform(10, 40)))
        at += rng.expovariate(rate)
    return arrivals


@dataclass
class Honest:
    success: bool = False
    wait: float | None = None  # click to running, s
    refusals: int = 0
    error: str = ""


@dataclass
class Tally:
    """What one run saw, filled by its threads."""

    honest: list[Honest] = field(default_factory=list)
    bot_ids: set[str] = field(default_factory=set)
    bot_creates: int = 0
    bot_passes: int = 0
    bot_cpu: float = 0.0
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, bots', all)
    lock: threading.Lock = field(default_factory=threading.Lock)


def retry_after(response: requests.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


class Run:
    """One scenario on one running stack."""

    def __init__(self, stack: RunningStack, options: argparse.Namespace, bots: bool) -> None:
        self.url = stack.url
        self.redis = stack.redis
        self.options = options
        self.bots = bots
        self.tally = Tally()
        self.stop = threading.Event()
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=2, mp_context=multiprocessing.get_context("spawn")
        )
        self.window = (0.0, 0.0)  # while the honest crowd was there, s from the start

    def play(self) -> Tally:
        options = self.options
        started = time.monotonic()
        crowd_starts = started + (options.warm_up if self.bots else 0)
        threads = [self._thread(self._sample, started)]
        if self.bots:
            threads += [self._thread(self._bot, address) for address in bot_addresses()]
        visitors = [
            self._thread(self._honest, i, crowd_starts + arrival.at, arrival.hold)
            for i, arrival in enumerate(
                honest_crowd(options.seed, options.duration, options.arrivals)
            )
        ]
        for visitor in visitors:
            visitor.join()
        self.window = (crowd_starts - started, time.monotonic() - started)
        self.stop.set()  # the bots attack until the last honest visitor is done
        for thread in threads:
            thread.join()
        self.pool.shutdown()
        self.redis.close()
        return self.tally

    def _thread(self, target: Callable[..., None], *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        return thread

    # The honest crowd ---------------------------------------------------------------------

    def _honest(self, index: int, arrive_at: float, hold: float) -> None:
        outcome = Honest()
        with self.tally.lock:
            self.tally.honest.append(outcome)
        time.sleep(max(0.0, arrive_at - time.monotonic()))
        visitor = Visitor(self.url, self.redis, seed=index)
        visitor.http = session_from(honest_address(index))
        try:
            self._visit(visitor, outcome, hold)
        except (requests.RequestException, redis.RedisError, ValueError) as error:
            outcome.error = f"{type(error).__name__}: {error}"
        finally:
            visitor.close()

    def _visit(self, visitor: Visitor, outcome: Honest, hold: float) -> None:
        patience = self.options.patience
        token, token_at = visitor.pass_token(), time.monotonic()
        clicked = time.monotonic()
        while True:
            if time.monotonic() - token_at > 100:  # passes live 120 s: a fresh one
                token, token_at = visitor.pass_token(), time.monotonic()
            made = visitor.http.post(
                f"{self.url}/containers",
                json={"template": "nginx", "captcha_token": token},
                timeout=30,
            )
            if made.status_code == 202:
                break
            if made.status_code not in (429, 503):
                outcome.error = f"create answered {made.status_code}: {made.text[:200]}"
                return
            outcome.refusals += 1
            pause = min(RETRY_CAP, retry_after(made))
            if time.monotonic() + pause - clicked > patience:
                return  # gives up
            time.sleep(pause)
        container = made.json()["id"]
        while True:
            state = visitor.get(f"/containers/{container}").json()["state"]
            if state == "running":
                outcome.success, outcome.wait = True, time.monotonic() - clicked
                break
            if state != "pending" or time.monotonic() - clicked > patience:
                break  # failed, or waited too long: leaves (a waiting place is given back)
            time.sleep(POLL)
        if outcome.success:
            time.sleep(hold)
        visitor.delete(f"/containers/{container}")

    # The bot farm -------------------------------------------------------------------------

    def _bot(self, address: str) -> None:
        http = session_from(address)
        rng = random.Random(address)
        token: tuple[str, float] | None = None
        waiting: set[str] = set()
        try:
            while not self.stop.is_set():
                if token is None or time.monotonic() - token[1] > 100:
                    token = (self._bot_pass(http, rng), time.monotonic())
                    if not token[0]:
                        token = None
                        continue
                made = http.post(
                    f"{self.url}/containers",
                    json={"template": "nginx", "captcha_token": token[0]},
                    timeout=30,
                )
                if made.status_code == 202:
                    token = None
                    record = made.json()
                    with self.tally.lock:
                        self.tally.bot_ids.add(record["id"])
                        self.tally.bot_creates += 1
                    if record.get("phase") == "waiting":
                        waiting.add(record["id"])
                    continue
                self._bide(http, retry_after(made), waiting)
        except (requests.RequestException, redis.RedisError, ValueError):
            pass  # a bot that stumbles stops; the others go on
        finally:
            http.close()

    def _bide(self, http: requests.Session, seconds: float, waiting: set[str]) -> None:
        """Sleep until a refusal's Retry-After, keeping any places held in the line."""
        wake = time.monotonic() + seconds
        while time.monotonic() < wake and not self.stop.is_set():
            for container in list(waiting):
                record = http.get(f"{self.url}/containers/{container}", timeout=30).json()
                if record.get("phase") != "waiting":
                    waiting.discard(container)
            self.stop.wait(max(0.0, min(10.0, wake - time.monotonic())))

    def _bot_pass(self, http: requests.Session, rng: random.Random) -> str:
        asked = http.post(
            f"{self.url}/captcha/request", json={"action": "create", "mode": "slider"}, timeout=30
        )
        if asked.status_code != 200:
            self._bide(http, retry_after(asked), set())
            return ""
        body = asked.json()
        started = time.monotonic()
        answer = int(self.redis.hget(keys.captcha_challenge(body["challenge_id"]), "x"))  # type: ignore[arg-type]
        drag = human_drag(answer, rng, max_offset=body["width"] - body["piece_size"])
        nonce, cpu = self.pool.submit(
            solve_natively, body["pow"]["salt"], body["pow"]["difficulty"]
        ).result()
        with self.tally.lock:
            self.tally.bot_cpu += cpu
            self.tally.bot_passes += 1
        # The server refuses answers sooner than a person could give them.
        time.sleep(max(0.0, 0.6 + drag.duration_ms / 1000 - (time.monotonic() - started)))
        verified = http.post(
            f"{self.url}/captcha/verify",
            json=payload(body["challenge_id"], drag, nonce),
            timeout=30,
        )
        return str(verified.json()["token"]) if verified.status_code == 200 else ""

    # Measuring ----------------------------------------------------------------------------

    def _sample(self, started: float) -> None:
        while not self.stop.is_set():
            held = self.redis.zrange(keys.EXPIRY_INDEX, 0, -1)
            with self.tally.lock:
                bots = sum(1 for container in held if container in self.tally.bot_ids)
            self.tally.samples.append((time.monotonic() - started, bots, len(held)))
            self.stop.wait(SAMPLE)


@dataclass(frozen=True)
class Figures:
    visitors: int
    success: float
    wait_p50: float
    wait_p95: float
    bot_share: float
    bot_cpu_per_container_hour: float
    bot_creates: int
    bot_passes: int
    bot_cpu: float
    errors: list[str]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(tally: Tally, window: tuple[float, float], capacity: int) -> Figures:
    waits = [h.wait for h in tally.honest if h.wait is not None]
    in_window = [s for s in tally.samples if window[0] <= s[0] <= window[1]]
    share = statistics.fmean(s[1] for s in in_window) / capacity if in_window else 0.0
    container_hours = sum(s[1] for s in tally.samples) * SAMPLE / 3600
    return Figures(
        visitors=len(tally.honest),
        success=sum(h.success for h in tally.honest) / max(1, len(tally.honest)),
        wait_p50=percentile(waits, 0.5),
        wait_p95=percentile(waits, 0.95),
        bot_share=share,
        bot_cpu_per_container_hour=tally.bot_cpu / container_hours if container_hours else 0.0,
        bot_creates=tally.bot_creates,
        bot_passes=tally.bot_passes,
        bot_cpu=tally.bot_cpu,
        errors=[h.error for h in tally.honest if h.error],
    )


def scenario(options: argparse.Namespace, env: dict[str, str], bots: bool) -> Figures:
    environment = {
        "SPROUT_LIMIT_CAPACITY": str(options.capacity),
        "SPROUT_CONTAINER_LIFETIME": str(LIFETIME),
        # A worker job waits for more work for the whole run, in every run: the figures compare
        # the rules, not the scaler's cold starts (after a quiet moment the next visitor would
        # wait for a job process to start; `benchmarks.stack` measures that).
        "SPROUT_WORKER_LINGER": "600",
        **env,
    }
    with tempfile.TemporaryDirectory() as data:
        stack = RunningStack(
            Path(data), "--start-delay", "0", "--node-cpu", "1000", "--node-memory", "1000Gi",
            env=environment,
        ).start()  # fmt: skip
        try:
            run = Run(stack, options, bots)
            tally = run.play()
        finally:
            stack.stop()
    return figures(tally, run.window, options.capacity)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="s of honest arrivals")
    parser.add_argument("--arrivals", type=float, default=0.5, help="honest visitors a second")
    parser.add_argument("--warm-up", type=float, default=15, help="s the bots start earlier")
    parser.add_argument("--patience", type=float, default=60, help="s a visitor waits at most")
    parser.add_argument("--capacity", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    runs = {
        "new rules": scenario(options, {}, bots=True),
        "today's rules": scenario(options, TODAY, bots=True),
        "no bots": scenario(options, {}, bots=False),
    }
    report(options, runs)


def report(options: argparse.Namespace, runs: dict[str, Figures]) -> None:
    print(
        f"abuse benchmark: capacity {options.capacity}, containers live {LIFETIME} s; honest"
        f" visitors {options.arrivals:g}/s for {options.duration:g} s from {HONEST_NETWORKS}"
        f" networks; bots {BOT_NETWORKS} networks x {BOTS_PER_NETWORK} addresses"
        f" ({options.warm_up:g} s ahead); patience {options.patience:g} s"
    )
    rows: list[tuple[str, Callable[[Figures], str]]] = [
        ("honest visitors", lambda f: f"{f.visitors}"),
        ("honest success rate", lambda f: f"{f.success:.2f}"),
        ("honest wait p50, s (click to running)", lambda f: f"{f.wait_p50:.2f}"),
        ("honest wait p95, s", lambda f: f"{f.wait_p95:.2f}"),
        ("bots' share of capacity", lambda f: f"{f.bot_share:.3f}"),
        ("bots' creates / passes solved", lambda f: f"{f.bot_creates} / {f.bot_passes}"),
        ("bots' proof-of-work CPU, s", lambda f: f"{f.bot_cpu:.1f}"),
        ("bots' CPU s per container-hour held", lambda f: f"{f.bot_cpu_per_container_hour:.1f}"),
    ]
    print(f"  {'':<40}" + "".join(f"{name:>16}" for name in runs))
    for title, shown in rows:
        print(f"  {title:<40}" + "".join(f"{shown(f):>16}" for f in runs.values()))
    for name, f in runs.items():
        for error in sorted(set(f.errors)):
            print(f"  {name}: an honest visitor stopped: {error}")
    new, baseline = runs["new rules"], runs["no bots"]
    goals = [
        ("honest success >= 0.95", new.success >= 0.95),
        ("bots' share <= 0.30", new.bot_share <= 0.30),
        (
            f"honest p95 <= 2x without bots ({2 * baseline.wait_p95:.2f} s)",
            new.wait_p95 <= 2 * baseline.wait_p95,
        ),
    ]
    print("  goals with the new rules: " + "; ".join(
        f"{goal} {'ok' if met else 'MISS'}" for goal, met in goals
    ))  # fmt: skip
    print(
        f"abuse: honest_success={new.success:.2f} honest_wait_p95_s={new.wait_p95:.2f}"
        f" bot_share={new.bot_share:.3f}"
        f" bot_cpu_s_per_container={new.bot_cpu_per_container_hour:.1f}"
    )


if __name__ == "__main__":
    main()
