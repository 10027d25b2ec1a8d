"""Command line: ``python -m deploy.local.kubesim --port 0 --kubeconfig-out PATH``.

Starts the simulated Kubernetes API server, writes a kubeconfig for it, prints its URL as one
line on stdout once it listens, and exits cleanly on SIGTERM or SIGINT (saving the state file
when one is used). Each option falls back to a ``KUBESIM_*`` environment variable.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from pydantic import ValidationError

from .config import SimConfig
from .persistence import StateFileError
from .simulator import Simulator


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"KUBESIM_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.kubesim",
        description="Simulated Kubernetes API server for Sprout's tests and local stack.",
    )
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(_env("PORT", "0") or 0), help="0 picks a free port"
    )
    parser.add_argument(
        "--kubeconfig-out", default=_env("KUBECONFIG_OUT"), help="write a kubeconfig here"
    )
    parser.add_argument("--token", default=_env("TOKEN"), help="bearer token (random when omitted)")
    parser.add_argument(
        "--state-file", default=_env("STATE_FILE"), help="keep objects across restarts"
    )
    parser.add_argument(
        "--namespace", default=_env("NAMESPACE", "sprout"), help="the namespace it serves"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for injected faults")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    for name, field in SimConfig.model_fields.items():
        if name != "seed":  # pydantic turns the text into the field's type
            help_text = f"{field.description} (default: {field.default})"
            parser.add_argument("--" + name.replace("_", "-"), help=help_text)
    return parser


LIST_FIELDS = ("error_codes", "fault_verbs", "fault_resources")  # comma-separated on the CLI


def config_from_args(args: argparse.Namespace) -> SimConfig:
    values: dict[str, object] = {}
    for name in SimConfig.model_fields:
        value = getattr(args, name, None)
        if value is not None and name in LIST_FIELDS:
            items = [item.strip() for item in str(value).split(",") if item.strip()]
            value = [int(item) for item in items] if name == "error_codes" else items
        if value is not None:
            values[name] = value
    return SimConfig.model_validate(values)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValidationError, ValueError) as error:
        print(f"kubesim: invalid option: {error}", file=sys.stderr)
        return 2
    simulator = Simulator(
        config,
        host=args.host,
        port=args.port,
        token=args.token,
        namespace=args.namespace,
        state_file=args.state_file,
        verbose=args.verbose,
    )
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        simulator.start()
    except (OSError, StateFileError, ValueError) as error:
        print(f"kubesim: cannot start: {error}", file=sys.stderr)
        return 1
    if args.kubeconfig_out:
        simulator.write_kubeconfig(args.kubeconfig_out)
    print(simulator.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
