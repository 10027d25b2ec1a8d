"""Fuzz every operation of the OpenAPI document against the functions, served as deployed.

    python -m tests.fuzz_api [--examples 1000] [--seed N]

Each HTTP function runs alone through the stock functions-framework CLI on a free port (as
benchmarks/serving.py starts them) against a real redis-server, and requests reach them by
the route table Traefik uses (deploy/base/routing/ingressroute.yaml). For every operation of
shared/openapi.json, schemathesis generates requests: its coverage cases (boundaries,
missing and wrong-typed fields, undocumented methods), then `--examples` fuzzed ones, half
valid per the document (positive), half not (negative). Every response must hold:

    no_server_error               no 5xx at all (our 503s say "full" or "storage down",
                                  and neither happens here)
    status_code_conformance       the status is documented for the operation,
    content_type_conformance      and so is the content type,
    response_headers_conformance  documented headers have their documented shape,
    response_schema_conformance   and the body its documented schema
    negative_data_rejection       invalid requests are refused with a 4xx
    valid_data_is_not_malformed   valid requests are never called malformed (400, 415, 422),
                                  but for a template name the configuration does not know
    unsupported_method            undocumented methods get 405,
    allow_header_conformance      with an Allow header that lists the documented ones

Generated requests alone would almost never pass the CAPTCHA or name a real container, so
the fuzzer plays visitors too (`World`): every request comes from one of many client
addresses (X-Real-Ip, from a trusted proxy) with that visitor's owner token as a bearer
token or a cookie (or none, or junk), and part of the valid ones carry real things in place
of generated ones: challenge ids the API issued (proof of work solved, the slider's offset
read from Redis), pass tokens the API issued or fresh ones, real template names, ids of
containers created in the run with their owner's token (or someone else's), ETags the API
sent. So the success paths, the limits (429) and ownership (404) are fuzzed too.

Prints a line per operation (requests, status counts, failures), then each distinct failure
once, with a curl command that reproduces it. Exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import random
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from benchmarks.serving import ROOT, function_server
from deploy.local.redis_server import RedisServer
from deploy.manifests import route_table
from shared import identity, keys, passes
from shared.captcha import pow
from shared.settings import DEFAULT_TEMPLATES

Case = schemathesis.Case[Any]
DOCUMENT = ROOT / "shared" / "openapi.json"
FUNCTIONS = ("captcha", "containers", "ratelimit")
SECRET = "fuzz-secret-key-0123456789abcdefghijklmnop"
ENVIRONMENT = {
    "SPROUT_SECRET_KEY": SECRET,
    "SPROUT_COOKIE_SECURE": "false",
    "SPROUT_TRUSTED_PROXIES": "127.0.0.1/32",  # the fuzzer is the proxy: it sets X-Real-Ip
    "SPROUT_LIMIT_CAPACITY": "1000000",  # "full" (503) is not what this run is about
    # Its visitors share a few /24s: a network's limits would refuse most of their creates.
    "SPROUT_LIMIT_CREATES_PER_NETWORK": "1000000",
    "SPROUT_LIMIT_LIVE_PER_NETWORK": "1000000",
    "SPROUT_LIMIT_NETWORK_SHARE_PERCENT": "100",
    "SPROUT_CAPTCHA_MIN_SOLVE_SECONDS": "0",  # the fuzzer answers at once
    "SPROUT_CAPTCHA_SLIDER_DIFFICULTY": "4",  # a cheap proof of work for the fuzzer to solve
    "SPROUT_CAPTCHA_POW_DIFFICULTY": "6",
    "SPROUT_CAPTCHA_MAX_DIFFICULTY": "8",
    "THREADS": "4",
}
TEMPLATES = [template["name"] for template in DEFAULT_TEMPLATES]
# Operations run in turns, in this order, so that each finds what the ones before it made.
ORDER = (
    "requestCaptcha",
    "verifyCaptcha",
    "createContainer",
    "listContainers",
    "getContainer",
    "deleteContainer",
    "listTemplates",
    "getRateLimit",
)
TURN = 50  # generated requests per operation and mode in one turn
POOL = 500  # at most this many of each thing the visitors keep


# Checks of our own (schemathesis's come from its OpenAPI checks) ----------------------------


def no_server_error(ctx: Any, response: schemathesis.Response, case: Case) -> None:
    if response.status_code >= 500:
        raise AssertionError(f"Server error {response.status_code}: {response.text[:300]}")


def valid_data_is_not_malformed(ctx: Any, response: schemathesis.Response, case: Case) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if response.status_code not in (400, 415, 422):
        return
    error = _json(response).get("error", {})
    fields = {d.get("field") for d in error.get("details") or [] if isinstance(d, dict)}
    if case.operation.label == "POST /containers" and fields == {"template"}:
        return  # the configuration's templates cannot be listed in the document
    raise AssertionError(
        f"A request valid per the document was refused as malformed ({response.status_code}): "
        f"{response.text[:300]}"
    )


def invalid_body_is_refused_as_malformed(
    ctx: Any, response: schemathesis.Response, case: Case
) -> None:
    # Stricter than negative_data_rejection, which takes any 4xx: a body the document does
    # not allow must be refused for what it is, not pass validation and fail later (403).
    if case.meta is None or not case.meta.is_negative_at(ParameterLocation.BODY):
        return
    if case.method.upper() != case.operation.method.upper():
        return  # an undocumented method: 405 comes first
    if response.status_code not in (400, 413, 415, 422):
        raise AssertionError(
            f"A body the document does not allow got {response.status_code}, not 400, 413, "
            f"415 or 422: {response.text[:300]}"
        )


# Invalid requests may be refused with any of these; 413 "too large" is one (a track of more
# points than the document allows is also a body over the limit). 5xx is not: see above.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
)

CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    invalid_body_is_refused_as_malformed,
    valid_data_is_not_malformed,
    unsupported_method,
    allow_header_conformance,
]


def _json(response: schemathesis.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# The visitors ---------------------------------------------------------------------------------


@dataclass
class Visitor:
    address: str
    secret: str  # owner secret


@dataclass
class Sent:
    visitor: Visitor
    secret: str | None  # the owner secret the request carried, if a valid one
    headers: dict[str, str]
    cookies: dict[str, str]


@dataclass
class World:
    """What the visitors hold: addresses and owner secrets, and what the API gave them."""

    store: redis.Redis
    visitors: list[Visitor]
    challenges: list[tuple[dict[str, Any], Visitor]] = field(default_factory=list)
    passes: list[tuple[str, Visitor]] = field(default_factory=list)
    containers: list[tuple[str, str]] = field(default_factory=list)  # (id, owner secret)
    etags: dict[str, str] = field(default_factory=dict)  # owner secret -> last ETag

    @classmethod
    def create(cls, client: redis.Redis, count: int) -> World:
        visitors = [
            Visitor(f"198.18.{n // 250}.{n % 250 + 1}", identity.new_owner_secret())
            for n in range(count)
        ]
        return cls(client, visitors)

    def prepare(self, case: Case, rnd: random.Random) -> Sent:
        """Pick who sends `case`; put real things into part of the valid ones."""
        visitor = rnd.choice(self.visitors)
        secret: str | None = visitor.secret
        name = case.operation.definition.raw.get("operationId")
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        body = case.body if isinstance(case.body, dict) else None
        if not positive:
            pass
        elif name == "verifyCaptcha" and body is not None and rnd.random() < 0.8:
            visitor = self._answer(body, visitor, rnd)
            secret = visitor.secret
        elif name == "createContainer" and body is not None:
            if rnd.random() < 0.8:
                body["template"] = rnd.choice(TEMPLATES)  # else unknown: 422
            if rnd.random() < 0.6:
                visitor = self._pass(body, visitor, rnd)  # else a made-up token: 403
                secret = visitor.secret
        elif name in ("getContainer", "deleteContainer") and self.containers:
            if rnd.random() < 0.7:
                container_id, owner_secret = rnd.choice(self.containers)
                case.path_parameters = {
                    **(case.path_parameters or {}),
                    "container_id": container_id,
                }
                if rnd.random() < 0.85:
                    secret = owner_secret
        elif name == "listContainers" and visitor.secret in self.etags and rnd.random() < 0.5:
            headers = CaseInsensitiveDict(case.headers or {})
            headers["If-None-Match"] = self.etags[visitor.secret]
            case.headers = headers
        return self._identity(visitor, secret, rnd)

    def _answer(self, body: dict[str, Any], visitor: Visitor, rnd: random.Random) -> Visitor:
        """Answer a challenge the API issued: its visitor (mostly), the proof of work solved
        (mostly), the slider's offset read from Redis (often); the drag stays generated."""
        if not self.challenges:
            return visitor
        challenge, asked = self.challenges.pop(rnd.randrange(len(self.challenges)))
        body["challenge_id"] = challenge["challenge_id"]
        if rnd.random() < 0.9:
            body["pow_nonce"] = pow.solve(challenge["pow"]["salt"], challenge["pow"]["difficulty"])
        offset = self.store.hget(keys.captcha_challenge(challenge["challenge_id"]), "x")
        if challenge["mode"] == "slider" and offset is not None and rnd.random() < 0.6:
            body["x"] = int(offset)
        return asked if rnd.random() < 0.9 else visitor

    def _pass(self, body: dict[str, Any], visitor: Visitor, rnd: random.Random) -> Visitor:
        """A pass token the API issued in this run, or a fresh one."""
        if self.passes and rnd.random() < 0.5:
            token, visitor = self.passes.pop(rnd.randrange(len(self.passes)))
        else:
            token = passes.issue(
                self.store,
                client_hash=identity.client_hash(SECRET, visitor.address),
                action="create",
                mode=rnd.choice(("slider", "slider", "pow")),
            )
        body["captcha_token"] = token
        return visitor

    @staticmethod
    def _identity(visitor: Visitor, secret: str | None, rnd: random.Random) -> Sent:
        headers = {"X-Real-Ip": visitor.address}
        cookies: dict[str, str] = {}
        roll = rnd.random()
        if secret is None or roll < 0.1:
            secret = None  # anonymous
        elif roll < 0.55:
            headers["Authorization"] = f"Bearer {secret}"
        elif roll < 0.95:
            cookies[identity.OWNER_COOKIE] = secret
        else:
            junk = rnd.choice(("", "x", "not-a-token", "Zm9v" * 20, secret[:-1]))
            headers["Authorization"] = f"Bearer {junk}"
            secret = None
        return Sent(visitor, secret, headers, cookies)

    def harvest(self, name: str, sent: Sent, response: schemathesis.Response) -> None:
        """Keep what the API handed out, for the operations that come after."""
        status = response.status_code
        if name == "requestCaptcha" and status == 200:
            _keep(self.challenges, (response.json(), sent.visitor))
        elif name == "verifyCaptcha" and status == 200:
            _keep(self.passes, (response.json()["token"], sent.visitor))
        elif name == "createContainer" and status == 202:
            owner = sent.secret or _header(response, identity.OWNER_TOKEN_HEADER)
            if owner:
                _keep(self.containers, (response.json()["id"], owner))
        elif name == "listContainers" and status == 200 and sent.secret:
            self.etags[sent.secret] = _header(response, "ETag")


def _header(response: schemathesis.Response, name: str) -> str:
    return (response.headers.get(name.lower()) or [""])[0]


def _keep(pool: list[Any], item: Any) -> None:
    pool.append(item)
    del pool[:-POOL]


# The run --------------------------------------------------------------------------------------


@dataclass
class Tally:
    """One operation's run."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # by title
    examples: dict[str, str] = field(default_factory=dict)  # title -> the first one, in full
    negative_space: bool = True  # False: the document leaves nothing to get wrong


@dataclass
class Report:
    tallies: dict[str, Tally]
    seconds: float

    @property
    def failures(self) -> dict[str, str]:
        return {
            f"{label}: {title}": text
            for label, tally in self.tallies.items()
            for title, text in tally.examples.items()
        }

    def render(self) -> str:
        lines = [f"{'operation':<36} {'requests':>8}  {'failures':>8}  statuses"]
        for label, tally in self.tallies.items():
            statuses = " ".join(f"{s}:{n}" for s, n in sorted(tally.statuses.items()))
            failed = sum(tally.failures.values())
            lines.append(f"{label:<36} {tally.requests:>8}  {failed:>8}  {statuses}")
        total = sum(t.requests for t in self.tallies.values())
        lines.append(
            f"{total} requests in {self.seconds:.1f} s; {len(self.failures)} distinct failures"
        )
        for name, text in self.failures.items():
            lines += ["", f"FAILURE {name}", text]
        return "\n".join(lines)


class Fuzzer:
    def __init__(self, urls: dict[str, str], world: World, seed_value: int) -> None:
        self.schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)
        self.routes = route_table()
        self.urls = urls
        self.world = world
        self.seed = seed_value
        self.session = requests.Session()
        # Each request says who it is itself: the session must not keep the owner cookie.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def operations(self) -> list[Any]:
        found = {
            result.ok().definition.raw["operationId"]: result.ok()
            for result in self.schema.get_all_operations()
            if isinstance(result, Ok)
        }
        missing = sorted(set(found) - set(ORDER))
        if missing:
            raise SystemExit(f"tests/fuzz_api.py: add {', '.join(missing)} to ORDER")
        return [found[name] for name in ORDER if name in found]

    def base_url(self, path: str) -> str:
        for prefix, service in self.routes:
            if path.startswith(prefix):
                return self.urls[service]
        raise LookupError(path)

    def run(self, examples: int) -> Report:
        started = time.monotonic()
        operations = self.operations()
        tallies = {op.label: Tally() for op in operations}
        for op in operations:
            generation = self.schema.config.generation_for(operation=op)
            cases = self.schema.iter_coverage_cases(
                op,
                generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                generation_config=generation,
            )
            rnd = random.Random(self.seed)
            for case in cases:
                self.exercise(case, rnd, tallies[op.label])
        half = max(1, examples // 2)
        for turn in range(-(-half // TURN)):
            count = min(TURN, half - turn * TURN)
            for op in operations:
                tally = tallies[op.label]
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    if mode is GenerationMode.NEGATIVE and not tally.negative_space:
                        mode = GenerationMode.POSITIVE  # its share goes to valid requests
                    try:
                        self.fuzz(op, mode, count, turn, tally)
                    except Unsatisfiable:
                        tally.negative_space = False
                        self.fuzz(op, GenerationMode.POSITIVE, count, turn, tally)
        return Report(tallies, time.monotonic() - started)

    def fuzz(self, op: Any, mode: GenerationMode, count: int, turn: int, tally: Tally) -> None:
        strategy = op.as_strategy(generation_mode=mode)
        label = f"{op.label} {mode.value} {turn}"

        @seed(self.seed ^ zlib.crc32(label.encode()))
        @settings(
            max_examples=count,
            phases=[Phase.generate],
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        # The visitors' choices come from a seed drawn with the case: a fixed shape for
        # hypothesis, whatever the choices then read from the world.
        @given(case=strategy, choices=st.integers(min_value=0, max_value=2**64 - 1))
        def generated(case: Case, choices: int) -> None:
            self.exercise(case, random.Random(choices), tally)

        generated()

    def exercise(self, case: Case, rnd: random.Random, tally: Tally) -> None:
        name = case.operation.definition.raw.get("operationId", "")
        sent = self.world.prepare(case, rnd)
        response = case.call(
            base_url=self.base_url(case.operation.path),
            session=self.session,
            headers=sent.headers,
            cookies=sent.cookies,
            timeout=30,
            allow_redirects=False,
        )
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=sent.headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                tally.failures[failure.title] += 1
                if failure.title not in tally.examples:
                    curl = case.as_curl_command(headers={**sent.headers, **_cookie_header(sent)})
                    tally.examples[failure.title] = "\n".join(
                        [
                            failure.message,
                            f"{response.status_code} {response.text[:500]}",
                            _cut(curl),
                        ]
                    )
        if case.method.upper() == case.operation.method.upper():
            self.world.harvest(name, sent, response)


def _cut(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _cookie_header(sent: Sent) -> dict[str, str]:
    if not sent.cookies:
        return {}
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in sent.cookies.items())}


# Serving ------------------------------------------------------------------------------------


@contextmanager
def serving(redis_url: str, logs: Path) -> Iterator[dict[str, str]]:
    """Each HTTP function through the stock CLI on its own port: {function: base URL}.

    The three start, and stop, side by side (gunicorn takes a second or so for each)."""
    environment = {**ENVIRONMENT, "SPROUT_REDIS_URL": redis_url}
    servers = {
        name: function_server(
            ROOT / "functions" / name / "main.py", name, environment, logs / f"{name}.log"
        )
        for name in FUNCTIONS
    }
    with ThreadPoolExecutor(len(servers)) as pool:
        starting = {name: pool.submit(server.__enter__) for name, server in servers.items()}
        wait(starting.values())
        started = [name for name, future in starting.items() if future.exception() is None]
        try:
            if len(started) < len(servers):
                raise RuntimeError(f"not every function started: only {started}")
            yield {name: future.result() for name, future in starting.items()}
        finally:
            for stopping in [pool.submit(servers[name].__exit__, None, None, None)
                             for name in started]:  # fmt: skip
                stopping.result()


def fuzz(
    redis_url: str, logs: Path, *, examples: int, seed_value: int, visitors: int | None = None
) -> Report:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        world = World.create(client, visitors or max(20, examples // 10))
        with serving(redis_url, logs) as urls:
            return Fuzzer(urls, world, seed_value).run(examples)
    finally:
        client.close()


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="per operation")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    options = parser.parse_args(argv)
    seed_value = options.seed if options.seed is not None else random.randrange(2**32)
    out(f"seed {seed_value}, {options.examples} generated requests per operation")
    with tempfile.TemporaryDirectory(prefix="sprout-fuzz-") as temporary:
        folder = Path(temporary)
        (folder / "redis").mkdir()
        server = RedisServer(folder / "redis").start()
        try:
            report = fuzz(server.url, folder, examples=options.examples, seed_value=seed_value)
        finally:
            server.stop()
        out(report.render())
        if report.failures:
            for log in sorted(folder.glob("*.log")):
                out(
                    f"--- {log.name} (last lines)\n" + "\n".join(log.read_text().splitlines()[-20:])
                )
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
