"""Drive the whole local stack as a visitor would: start it as `make dev` does, talk HTTP.

The visitor solves the CAPTCHA like a person, reading the answer from Redis where a person
would read it off the picture (the product has no bypass).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import requests

from shared import keys
from shared.captcha import pow
from tests.captcha_bots import human_drag, payload

ROOT = Path(__file__).resolve().parent.parent


class RunningStack:
    """`python -m deploy.local` in a data directory, on free ports."""

    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.extra = extra
        self.env = env or {}
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.description: dict[str, Any] = {}
        self.output: list[str] = []

    def start(self, timeout: float = 90) -> RunningStack:
        (self.data_dir / "stack.json").unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deploy.local", "--data-dir", str(self.data_dir),
             "--port", "0", *self.extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, env={**os.environ, **self.env},
        )  # fmt: skip
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.output.append(line)
            if line.startswith("http://"):
                self.url = line.strip()
                self.description = json.loads((self.data_dir / "stack.json").read_text())
                return self
        raise RuntimeError("the stack did not start:\n" + "".join(self.output))

    @property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.description["redis_url"], decode_responses=True)

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.stdout is not None:
                self.output.extend(self.process.stdout.readlines())
                self.process.stdout.close()
        return code

    def kill_everything(self) -> None:
        """A hard stop of every process of the stack at once (power cut)."""
        # Again until none is left: a part may fork (the scaler starts a job) while we kill,
        # and a killed process lingers a moment before it is gone.
        deadline = time.monotonic() + 10
        while (alive := processes_of(self.data_dir)) and time.monotonic() < deadline:
            for pid in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()


def processes_of(data_dir: Path, command_has: str = "", command_lacks: str = "") -> list[int]:
    """Live processes started for the stack in `data_dir`: they carry SPROUT_STACK, except
    Redis, which writes its title over its environment; it runs in <data-dir>/redis. With
    `command_has` / `command_lacks`, those whose command line has / lacks that text (read
    once: a process that ends meanwhile is left out, not taken for another kind).

    Every process listed was alive at one moment, the end of the scan: reading /proc takes a
    while, and a process seen early in the scan that ends before a later one starts is left
    out (else one job ending and the next starting would read as two at once)."""
    marker = f"SPROUT_STACK={data_dir.resolve()}".encode()
    redis_dir = str(data_dir.resolve() / "redis")
    seen: dict[int, str] = {}  # pid -> its start time, so a reused pid is not taken for it
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        started = _start_time(entry)
        if started is None:
            continue
        if marker not in environ.split(b"\0") and _working_dir(entry) != redis_dir:
            continue
        if command_has or command_lacks:
            command = _command_line(entry)
            if command_has.encode() not in command or (
                command_lacks and command_lacks.encode() in command
            ):
                continue
        seen[int(entry.name)] = started
    return [pid for pid, started in seen.items() if _start_time(Path(f"/proc/{pid}")) == started]


def _start_time(entry: Path) -> str | None:
    """The process's start time (clock ticks after boot), or None if it has ended (or is a
    zombie: ended, not yet reaped)."""
    try:
        fields = (entry / "stat").read_text().rsplit(") ", 1)[-1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]  # state, ..., starttime (field 22)


def _working_dir(entry: Path) -> str:
    try:
        return os.readlink(entry / "cwd").removesuffix(" (deleted)")
    except OSError:
        return ""


def _command_line(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def redis_pid(data_dir: Path) -> int:
    """The stack's Redis, from stack.json (rewritten when the stack restarts it). Redis writes
    its title over its environment, so it cannot be found by the stack's marker."""
    description = json.loads((data_dir / "stack.json").read_text())
    (part,) = [p for p in description["parts"] if p["name"] == "redis"]
    return int(part["pid"])


def worker_jobs(data_dir: Path) -> list[int]:
    """Worker job processes running for the stack (not the scheduled tick, which runs every
    couple of seconds: a second read of its command line, after it ended, read as a job's)."""
    return processes_of(data_dir, "functions.worker", command_lacks=" tick")


class Visitor:
    """One browser: a cookie jar, and a person's hand on the slider."""

    def __init__(self, url: str, redis_client: redis.Redis, seed: int = 7) -> None:
        self.url = url
        self.redis = redis_client
        self.http = requests.Session()
        self.rng = random.Random(seed)

    def close(self) -> None:
        self.http.close()

    def pass_token(self, attempts: int = 4) -> str:
        """A pass token, solving a fresh puzzle when a drag is refused, as a person does (the
        human model is refused about one time in a thousand, as real people sometimes are)."""
        for attempt in range(1, attempts + 1):
            verified = self._solve_one_puzzle()
            if verified.status_code != 403 or attempt == attempts:
                break
        verified.raise_for_status()
        return str(verified.json()["token"])

    def _solve_one_puzzle(self) -> requests.Response:
        challenge = self.http.post(
            f"{self.url}/captcha/request", json={"action": "create", "mode": "slider"}, timeout=10
        )
        challenge.raise_for_status()
        body = challenge.json()
        answer = int(self.redis.hget(keys.captcha_challenge(body["challenge_id"]), "x"))  # type: ignore[arg-type]
        drag = human_drag(answer, self.rng, max_offset=body["width"] - body["piece_size"])
        nonce = pow.solve(body["pow"]["salt"], body["pow"]["difficulty"])
        # A person looks before dragging; the server refuses impossibly fast solutions.
        time.sleep(0.6 + drag.duration_ms / 1000)
        return self.http.post(
            f"{self.url}/captcha/verify", json=payload(body["challenge_id"], drag, nonce),
            timeout=10,
        )  # fmt: skip

    def create(self, template: str = "nginx") -> requests.Response:
        token = self.pass_token()
        return self.http.post(
            f"{self.url}/containers", json={"template": template, "captcha_token": token},
            timeout=10,
        )  # fmt: skip

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.url + path, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.url + path, timeout=10)

    def wait_for_state(
        self, container_id: str, states: set[str], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        record: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.get(f"/containers/{container_id}")
            if response.status_code == 200:
                record = response.json()
                if record["state"] in states:
                    return record
            time.sleep(0.1)
        raise AssertionError(f"{container_id} never reached {states}; last: {record}")
