"""`python -m functions.worker` / `sprout-worker`: run one job, or the scheduled tick.

    sprout-worker [run]   one job: reconcile, drain the stream, exit 0 (KEDA ScaledJob)
    sprout-worker tick    add a `reconcile` entry if work waits that lag does not show
                          (CronJob, every minute; needs Redis only, no cluster access)
    sprout-worker rbac    print the Kubernetes permissions the worker uses, as JSON
    sprout-worker metrics [--out FILE | --listen HOST:PORT]
                          print the worker's metrics (Prometheus text format, from Redis),
                          write them atomically to FILE (a node-exporter textfile), or serve
                          them on http://HOST:PORT/metrics until SIGTERM

Configuration comes from the environment: `SPROUT_REDIS_URL`, `SPROUT_BASE_DOMAIN`,
`SPROUT_URL_SCHEME`, `SPROUT_TEMPLATES` and `SPROUT_WORKER_*` (see `settings.WorkerSettings`).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import redis

from functions.worker.settings import WorkerSettings
from functions.worker.stream import Stream
from shared import logs
from shared.errors import ConfigError
from shared.redis_client import connect
from shared.settings import RedisSettings, SiteSettings, TemplateSettings, load

log = logging.getLogger("sprout.worker")


def run_job(settings: WorkerSettings) -> int:
    # Imported here: the Kubernetes client and the job cost about half a second of CPU to
    # import, most of a cold click-to-running, and the tick (Redis only) must not pay for it.
    # Modules and classes live as long as the process: while they load, the cyclic collector
    # would scan them again and again and find nothing to free (a fifth of the import time).
    # So it is off while importing; then what was imported is frozen (never scanned again) and
    # the collector resumes for the job's own garbage.
    gc.disable()
    try:
        from kubernetes.config import ConfigException

        from functions.worker.job import Job
        from functions.worker.kube import Kube
    finally:
        gc.freeze()
        gc.enable()

    site = load(SiteSettings)
    templates = load(TemplateSettings).by_name()
    client = connect(load(RedisSettings).redis_url, timeout=10.0)
    try:
        kube = Kube.connect(settings)
    except (ConfigException, OSError) as exc:
        where = settings.kubeconfig or "the in-cluster service account"
        raise ConfigError(f"Sprout cannot reach the cluster with {where}: {exc}") from exc
    job = Job(settings=settings, site=site, templates=templates, redis_client=client, kube=kube)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the entries in hand, taking no more", signum)
        job.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        job.run()
    finally:
        kube.close()
        client.close()
    return 0


def run_tick(settings: WorkerSettings) -> int:
    client = _redis()
    try:
        answer = Stream(client, "tick").tick(
            now=time.time(),
            min_idle=settings.claim_min_idle,
            reconcile_interval=settings.reconcile_interval,
        )
    finally:
        client.close()
    log.info("tick: %s", answer)
    return 0


def print_metrics(out: Path | None) -> int:
    from prometheus_client import write_to_textfile

    from functions.worker import metrics

    client = _redis()
    try:
        if out is None:
            sys.stdout.write(metrics.render(client))
        else:  # atomically, as textfile collectors expect
            write_to_textfile(str(out), metrics.registry(client))
    finally:
        client.close()
    return 0


def serve_metrics(address: tuple[str, int]) -> int:
    from functions.worker import metrics

    client = _redis()
    server = metrics.serve(address, client)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever(), which runs in this thread: hand it over.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = server.server_address[:2]
    log.info("serving metrics on http://%s:%s/metrics", bound_host, bound_port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        client.close()
    return 0


def _redis() -> redis.Redis:
    settings = load(RedisSettings)
    return connect(settings.redis_url, timeout=settings.redis_timeout)


def _listen_address(value: str) -> tuple[str, int]:
    """`HOST:PORT`, or `:PORT` for every interface."""
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (or :PORT), not {value!r}")
    return host or "0.0.0.0", int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sprout-worker", description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", nargs="?", default="run", choices=["run", "tick", "rbac", "metrics"]
    )
    outputs = parser.add_mutually_exclusive_group()
    outputs.add_argument("--out", type=Path, help="metrics: write to this file, not stdout")
    outputs.add_argument(
        "--listen", type=_listen_address, help="metrics: serve on HOST:PORT at /metrics"
    )
    args = parser.parse_args(argv)
    if args.command == "rbac":
        from functions.worker.kube import REQUIRED_RBAC

        rules = [
            {"apiGroup": group, "resource": resource, "verbs": list(verbs)}
            for (group, resource), verbs in REQUIRED_RBAC.items()
        ]
        print(json.dumps(rules, indent=2))
        return 0
    try:
        settings = load(WorkerSettings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    logs.configure(settings.log_level)  # JSON lines on stderr, with each entry's request id
    try:
        if args.command == "metrics":
            return serve_metrics(args.listen) if args.listen else print_metrics(args.out)
        return run_tick(settings) if args.command == "tick" else run_job(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        log.error("Redis failed: %s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
