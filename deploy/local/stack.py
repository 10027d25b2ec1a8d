"""Sprout on one machine: Redis, a cluster, the functions, the gateway and the scaler.

    python -m deploy.local [--port 8080] [--data-dir .sprout] [--kubeconfig PATH]

Each part is its own process, as on a cluster: one functions-framework process per function,
a gateway that routes like Traefik, a scaler that starts worker jobs like KEDA, and either a
real cluster (a kubeconfig) or the simulated Kubernetes API server. State lives in the data
directory (Redis AOF, the simulated cluster's objects, the server secret), so a restart picks
up where the last run stopped. Logs go to <data-dir>/logs/, one file per part. Ctrl-C (or
SIGTERM) stops every process, worker jobs included.

Redis is supervised the way Kubernetes runs its StatefulSet pod: if it exits (crash, OOM
kill, someone's SIGKILL), the stack starts it again after `--redis-restart-delay` seconds on
the same port with the same AOF directory, and rewrites stack.json with the new pid. While it
is down the functions answer 503 and worker jobs exit; the scaler keeps polling and starts
new jobs once Redis is back. Any other part exiting stops the stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploy import manifests
from deploy.local.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("captcha", "containers", "ratelimit")
# One machine restarts in seconds, not minutes: take over a dead job's entries sooner than a
# cluster would; and a job waits a little longer for the next entry before it exits, since
# starting a job process costs most of a click-to-running here (the environment may still set
# each of these).
LOCAL_WORKER_TIMINGS = {
    "SPROUT_WORKER_LINGER": "5",
    "SPROUT_WORKER_CLAIM_MIN_IDLE": "8",
    "SPROUT_WORKER_LOST_AFTER": "30",
}


@dataclass
class Part:
    name: str
    address: str
    log: Path | None
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Options:
    data_dir: Path
    port: int = 8080
    host: str = "127.0.0.1"
    kubeconfig: Path | None = None
    redis_url: str | None = None
    start_delay: float = 0.5
    polling_interval: float = 0.2
    tick_interval: float = 2.0
    node_cpu: str = "16"
    node_memory: str = "32Gi"
    redis_restart_delay: float = 1.0
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.data = options.data_dir.resolve()
        self.logs = self.data / "logs"
        self.parts: list[Part] = []
        self.redis: RedisServer | None = None
        self.redis_restarts = 0
        self._redis_down_since: float | None = None
        self.url = ""
        self._description: tuple[str, Path, bool] | None = None

    # Start --------------------------------------------------------------------------------

    def start(self) -> Stack:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            redis_url = self._start_redis()
            kubeconfig, simulated = self._start_cluster()
            gateway_port = self._gateway_port()
            env = self._environment(redis_url, kubeconfig, simulated, gateway_port)
            upstreams = [f"{name}={self._start_function(name, env)}" for name in FUNCTIONS]
            self._start_scaler(env)
            self.url = self._start_gateway(gateway_port, upstreams, redis_url)
        except BaseException:
            self.stop()
            raise
        self._write_description(redis_url, kubeconfig, simulated)
        return self

    def _write_description(self, redis_url: str, kubeconfig: Path, simulated: bool) -> None:
        """<data-dir>/stack.json: where each part is, for tools and tests (soak, browser)."""
        self._description = (redis_url, kubeconfig, simulated)
        description = {
            "url": self.url,
            "redis_url": redis_url,
            "kubeconfig": str(kubeconfig),
            "simulated": simulated,
            "parts": [
                {"name": p.name, "address": p.address, "log": str(p.log or ""),
                 "pid": p.process.pid if p.process else None}
                for p in self.parts
            ],
            "redis_restarts": self.redis_restarts,
        }  # fmt: skip
        partial = self.data / "stack.json.tmp"
        partial.write_text(json.dumps(description, indent=2) + "\n")
        partial.replace(self.data / "stack.json")  # readers never see half a file

    def _start_redis(self) -> str:
        if self.options.redis_url:
            self.parts.append(Part("redis", self.options.redis_url, None))
            return self.options.redis_url
        log = self.logs / "redis.log"
        self.redis = RedisServer(
            self.data / "redis", appendonly=True, env=self._marker(), logfile=log
        ).start()
        self.parts.append(Part("redis", self.redis.url, log, self.redis.process))
        return self.redis.url

    def _start_cluster(self) -> tuple[Path, bool]:
        if self.options.kubeconfig:
            self.parts.append(Part("cluster", str(self.options.kubeconfig), None))
            return self.options.kubeconfig, False
        kubeconfig = self.data / "kubeconfig"
        if kubeconfig.exists():
            kubeconfig.unlink()  # rewritten by the simulator once it listens
        part = self._spawn(
            "kubesim",
            [
                sys.executable, "-m", "deploy.local.kubesim", "--host", "127.0.0.1",
                "--port", "0", "--kubeconfig-out", str(kubeconfig),
                "--state-file", str(self.data / "kubesim-state.json"),
                "--start-delay", str(self.options.start_delay),
                "--node-cpu", self.options.node_cpu, "--node-memory", self.options.node_memory,
            ],
            {},
        )  # fmt: skip
        part.address = self._await_line(part, "http")
        return kubeconfig, True

    def _gateway_port(self) -> int:
        port = self.options.port
        if port == 0:
            return free_port()
        with socket.socket() as probe:
            try:
                probe.bind((self.options.host, port))
            except OSError:
                chosen = free_port()
                print(f"Port {port} is taken; using {chosen} instead (choose with --port).")
                return chosen
        return port

    def _environment(
        self, redis_url: str, kubeconfig: Path, simulated: bool, gateway_port: int
    ) -> dict[str, str]:
        return {
            # This tree's code in every process: functions-framework is a console script, so
            # its processes would otherwise import the packages wherever they are installed
            # (with an editable install, another checkout's).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "SPROUT_REDIS_URL": redis_url,
            "SPROUT_SECRET_KEY": self._secret_key(),
            # Only the gateway (on loopback) may set X-Real-Ip, as only Traefik may in-cluster.
            "SPROUT_TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
            "SPROUT_COOKIE_SECURE": "false",
            "SPROUT_URL_SCHEME": "http",
            # Browsers resolve *.localhost to loopback: <id>.localhost:<port> reaches the gateway.
            "SPROUT_BASE_DOMAIN": "localhost",
            "SPROUT_URL_PORT": str(gateway_port),
            "SPROUT_CLUSTER_SIMULATED": "true" if simulated else "false",
            "KUBECONFIG": str(kubeconfig),
            "SPROUT_WORKER_KUBECONFIG": str(kubeconfig),
            **LOCAL_WORKER_TIMINGS,
            **{k: v for k, v in os.environ.items() if k in LOCAL_WORKER_TIMINGS},
            **self.options.extra_env,
        }

    def _secret_key(self) -> str:
        path = self.data / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def _start_function(self, name: str, env: dict[str, str]) -> str:
        port = free_port()
        part = self._spawn(
            name,
            [
                str(Path(sys.executable).parent / "functions-framework"),
                "--source", str(ROOT / "functions" / name / "main.py"), "--target", name,
                "--host", "127.0.0.1", "--port", str(port),
            ],
            {**env, **manifests.function_server_env(name)},  # threads as on the cluster
        )  # fmt: skip
        part.address = f"http://127.0.0.1:{port}"
        self._await_http(part, part.address + "/")
        return part.address

    def _start_scaler(self, env: dict[str, str]) -> None:
        part = self._spawn(
            "scaler",
            [
                sys.executable, "-m", "deploy.local.scaler",
                "--polling-interval", str(self.options.polling_interval),
                "--tick-interval", str(self.options.tick_interval),
                "--log-dir", str(self.logs),
            ],
            env,
        )  # fmt: skip
        part.address = f"jobs log: {self.logs / 'worker-jobs.log'}"

    def _start_gateway(self, port: int, upstreams: list[str], redis_url: str) -> str:
        command = [
            sys.executable, "-m", "deploy.local.gateway", "--host", self.options.host,
            "--port", str(port), "--static", str(ROOT / "frontend" / "dist"),
            "--redis", redis_url,
        ]  # fmt: skip
        for upstream in upstreams:
            command += ["--upstream", upstream]
        part = self._spawn("gateway", command, {})
        part.address = self._await_line(part, "http")
        return part.address

    # Processes ----------------------------------------------------------------------------

    def _marker(self) -> dict[str, str]:
        """Every process of this stack carries its data directory: nothing can hide from stop."""
        return {"SPROUT_STACK": str(self.data)}

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> Part:
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start ---\n".encode())
            out.flush()
            process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **env, **_own_code(), **self._marker()},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if name in ("kubesim", "gateway") else out,
                stderr=out, start_new_session=True,
            )  # fmt: skip
        part = Part(name, "", log, process)
        self.parts.append(part)
        return part

    def _await_line(self, part: Part, prefix: str, timeout: float = 30) -> str:
        """The first stdout line starting with `prefix` (a part announcing its URL)."""
        assert part.process is not None and part.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = part.process.stdout.readline().decode().strip()
            if line.startswith(prefix):
                return line.split()[0]
            if not line and part.process.poll() is not None:
                break
        raise RuntimeError(f"{part.name} did not start; see {part.log}")

    def _await_http(self, part: Part, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                if part.process is not None and part.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"{part.name} did not start; see {part.log}")

    def failed_part(self) -> Part | None:
        for part in self.parts:
            if part.process is not None and part.process.poll() is not None:
                return part
        return None

    def supervise(self) -> Part | None:
        """One look at the parts: restart Redis if it died (once its delay passed); answer
        the first other part that exited (the stack then stops)."""
        redis_part = next((p for p in self.parts if p.name == "redis"), None)
        if self.redis is not None and redis_part is not None:
            self._supervise_redis(redis_part)
        for part in self.parts:
            if part is redis_part and self.redis is not None:
                continue
            if part.process is not None and part.process.poll() is not None:
                return part
        return None

    def _supervise_redis(self, part: Part) -> None:
        assert self.redis is not None
        process = part.process
        if process is None or process.poll() is None:
            return
        now = time.monotonic()
        if self._redis_down_since is None:
            self._redis_down_since = now
            print(f"redis exited (code {process.returncode}); restarting it in "
                  f"{self.options.redis_restart_delay:g} s", flush=True)  # fmt: skip
        if now - self._redis_down_since < self.options.redis_restart_delay:
            return
        self.redis.process = None
        try:
            self.redis.start()  # same port, same AOF directory; waits until it answers PING
        except RuntimeError as error:
            print(f"{error}; trying again", flush=True)
            if self.redis.process is not None and self.redis.process.poll() is None:
                self.redis.process.kill()
                self.redis.process.wait()
            part.process = self.redis.process
            self._redis_down_since = time.monotonic()
            return
        part.process = self.redis.process
        self._redis_down_since = None
        self.redis_restarts += 1
        pid = part.process.pid if part.process else None
        print(f"redis restarted (pid {pid}, restart {self.redis_restarts})", flush=True)
        if self._description is not None:
            self._write_description(*self._description)

    def stop(self) -> None:
        """Stop every part, newest first, each with its whole process group."""
        for part in reversed(self.parts):
            process = part.process
            if process is None or process.poll() is not None:
                continue
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for part in reversed(self.parts):
            process = part.process
            if process is None:
                continue
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            _signal_group(process, signal.SIGKILL)  # stragglers in the group (worker jobs)
            if process.stdout is not None:
                process.stdout.close()
        if self.redis is not None:
            self.redis.process = None  # already stopped above

    def status_table(self) -> str:
        rows = [("part", "address", "log")]
        for part in self.parts:
            rows.append((part.name, part.address, str(part.log or "-")))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
        )


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _own_code() -> dict[str, str]:
    """Every part runs the code of this tree, whichever `sprout` the interpreter has installed
    (functions-framework's script would otherwise import `shared` from that install)."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run all of Sprout on this machine")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SPROUT_PORT", 8080)))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".sprout")
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="a real cluster (default: $KUBECONFIG; else simulated)")  # fmt: skip
    parser.add_argument("--start-delay", type=float, default=0.5,
                        help="simulated seconds from pod creation to Running")  # fmt: skip
    parser.add_argument("--polling-interval", type=float, default=0.2)
    parser.add_argument("--node-cpu", default="16", help="the simulated node's CPU")
    parser.add_argument("--node-memory", default="32Gi", help="the simulated node's memory")
    parser.add_argument("--redis-restart-delay", type=float, default=1.0,
                        help="seconds before a Redis that exited is started again")  # fmt: skip
    options = parser.parse_args(argv)
    kubeconfig = options.kubeconfig or (
        Path(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None
    )
    stack = Stack(
        Options(
            data_dir=options.data_dir,
            port=options.port,
            host=options.host,
            kubeconfig=kubeconfig,
            redis_url=os.environ.get("SPROUT_REDIS_URL"),
            start_delay=options.start_delay,
            polling_interval=options.polling_interval,
            node_cpu=options.node_cpu,
            node_memory=options.node_memory,
            redis_restart_delay=options.redis_restart_delay,
        )
    )
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        stack.start()
        print(stack.url, flush=True)
        print(stack.status_table(), flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            failed = stack.supervise()
            if failed is not None:
                print(f"{failed.name} exited; see {failed.log}. Stopping.", flush=True)
                break
            time.sleep(0.1)
    finally:
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    main()
