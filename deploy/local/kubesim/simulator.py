"""Wiring and lifecycle of the simulated API server: in a thread (tests) or a subprocess.

``Simulator`` assembles store, API, cluster loop, faults, statistics, state file and HTTP
server for one namespace (``sprout`` by default, enforcing Pod Security ``restricted`` like
Sprout's namespaces) and writes a kubeconfig that the official client loads.
``SimulatorProcess`` runs the same thing through the CLI, for tests that restart or kill it.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .api import ApiServer
from .config import SimConfig
from .faults import FaultInjector, RequestStats
from .lifecycle import Cluster
from .persistence import StateFile
from .server import SimHTTPServer
from .store import Store

CAPACITY_KEYS = frozenset({"node_cpu", "node_memory", "node_pods"})
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class Simulator:
    """The simulated Kubernetes API server, served from a background thread."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        namespace: str = "sprout",
        state_file: str | Path | None = None,
        event_history: int = 10_000,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.token = token or secrets.token_urlsafe(24)
        self.namespace = namespace
        self.verbose = verbose
        self._initial_config = config or SimConfig()
        self._config = self._initial_config
        self.store = Store(history_limit=event_history)
        self.api = ApiServer(self.store, namespace)
        self.cluster = Cluster(self.store, lambda: self._config)
        self.faults = FaultInjector()
        self.faults.configure(self._config)
        self.stats = RequestStats()
        self.state_file = StateFile(Path(state_file), self.store) if state_file else None
        self._http: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Simulator:
        if self.state_file and self.state_file.load():
            self.cluster.resume()
        self._http = SimHTTPServer((self.host, self.requested_port), self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="kubesim-http", daemon=True
        )
        self._thread.start()
        self.cluster.start()
        if self.state_file:
            self.state_file.start()
        return self

    def stop(self) -> None:
        self.store.close()  # ends open watches
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.cluster.stop()
        if self.state_file:
            self.state_file.stop()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("the simulator is not started")
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Writes a kubeconfig (mode 0600, atomically) for this server and returns its path."""
        context = {"cluster": "kubesim", "user": "kubesim", "namespace": self.namespace}
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubesim", "cluster": {"server": self.url}}],
            "users": [{"name": "kubesim", "user": {"token": self.token}}],
            "contexts": [{"name": "kubesim", "context": context}],
            "current-context": "kubesim",
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            yaml.safe_dump(document, stream, sort_keys=False)
        os.replace(temporary, target)
        return target

    # --- runtime control (also served at /_sim/*) --------------------------------------------

    @property
    def config(self) -> SimConfig:
        return self._config

    def configure(self, **changes: Any) -> SimConfig:
        """Changes settings while running; unknown or invalid values raise ValidationError."""
        config = self._config.updated(changes)
        self._config = config
        self.faults.configure(config, set(changes))
        if CAPACITY_KEYS & set(changes):
            self.cluster.capacity_changed()
        return config

    def reset(self, *, objects: bool = True, stats: bool = True, config: bool = True) -> None:
        """Back to a fresh cluster: objects (open watches get 410), statistics, settings."""
        if config:
            self._config = self._initial_config
            self.faults.configure(self._config)
        if objects:
            with self.store.lock:
                self.cluster.reset()
                self.store.load(self.store.resource_version, [])
        if stats:
            self.stats.reset()

    def save_state(self) -> str | None:
        return self.state_file.save() if self.state_file else None


class SimulatorStartError(RuntimeError):
    """The simulator process exited or did not print its URL in time."""


@dataclass
class SimulatorProcess:
    """The simulator running as ``python -m deploy.local.kubesim`` in a child process."""

    process: subprocess.Popen[str]
    url: str
    token: str
    kubeconfig: Path

    @classmethod
    def start(
        cls,
        kubeconfig_out: str | Path,
        *,
        token: str | None = None,
        state_file: str | Path | None = None,
        args: Sequence[str] = (),
        timeout: float = 20.0,
    ) -> SimulatorProcess:
        """Starts the CLI on a free loopback port and waits for its URL line."""
        token = token or secrets.token_urlsafe(24)
        command = [
            sys.executable,
            "-m",
            "deploy.local.kubesim",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--kubeconfig-out",
            str(kubeconfig_out),
            *(["--state-file", str(state_file)] if state_file else []),
            *args,
        ]
        env = dict(os.environ)
        env["KUBESIM_TOKEN"] = token
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])
        )
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env=env
        )
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                line = process.stdout.readline().strip()
                if line.startswith("http"):
                    return cls(process, line, token, Path(kubeconfig_out))
            if process.poll() is not None:
                raise SimulatorStartError(
                    f"kubesim exited with code {process.returncode} before listening"
                )
        process.kill()
        process.wait()
        raise SimulatorStartError(f"kubesim did not print its URL within {timeout} s")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        return int(self.process.returncode)

    def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        self.process.kill()
        self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Calls a ``/_sim/*`` endpoint and returns its decoded JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def configure(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("POST", "/_sim/config", changes)
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "/_sim/stats")
        return result

    def reset(self) -> None:
        self.admin("POST", "/_sim/reset", {})
