"""The image definitions in deploy/images/: they cannot be built here (no container engine),
so they are checked for what matters structurally: a pinned base, a numeric non-root user,
no secrets, and the right entry point for each function (one definition, built once per
function with --build-arg FUNCTION)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy import manifests

IMAGES_DIR = manifests.DEPLOY_DIR / "images"
REPO = manifests.DEPLOY_DIR.parent
FUNCTIONS = ("captcha", "containers", "ratelimit")
EXPECTED_IMAGES = {"function", "worker", "frontend"}
# A base is pinned by digest, or by a full version tag (x.y.z).
PINNED = re.compile(r"^[\w./-]+(?::[\w.-]*\d+\.\d+\.\d+[\w.-]*)?(?:@sha256:[0-9a-f]{64})?$")
SECRET_WORDS = re.compile(r"(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL)", re.I)


@dataclass
class Instruction:
    keyword: str
    arguments: str


def parse(path: Path) -> list[Instruction]:
    """Dockerfile instructions, with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    assert not pending, f"{path}: dangling line continuation"
    return instructions


def dockerfiles() -> dict[str, Path]:
    return {p.parent.name: p for p in sorted(IMAGES_DIR.glob("*/Dockerfile"))}


def definition_of(image: str) -> str:
    """The Dockerfile folder an image is built from (the functions share one)."""
    return "function" if image in FUNCTIONS else image


def test_there_is_an_image_per_function_the_worker_and_the_frontend() -> None:
    assert set(dockerfiles()) == EXPECTED_IMAGES


def test_every_rendered_sprout_image_has_a_definition() -> None:
    from tests.deploy.support import rendered, walk

    for resource in rendered("base"):
        for path, value in walk(resource):
            if path.endswith(".image") and value.startswith("sprout/"):
                name = value.removeprefix("sprout/").split(":")[0]
                assert definition_of(name) in dockerfiles(), value


@pytest.mark.parametrize("name", sorted(EXPECTED_IMAGES))
def test_base_images_are_pinned(name: str) -> None:
    stages = [i for i in parse(dockerfiles()[name]) if i.keyword == "FROM"]
    assert stages
    for stage in stages:
        image = stage.arguments.split()[0]
        assert "$" not in image, f"{name}: base image from a build argument: {image}"
        assert PINNED.match(image) and (":" in image or "@" in image), f"{name}: {image}"
        assert not image.endswith(":latest")


@pytest.mark.parametrize("name", sorted(EXPECTED_IMAGES))
def test_final_stage_runs_as_a_numeric_non_root_user(name: str) -> None:
    instructions = parse(dockerfiles()[name])
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    users = [ins.arguments for ins in instructions[last_from:] if ins.keyword == "USER"]
    assert users, f"{name}: the final stage sets no USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, f"{name}: USER {users[-1]}"
    assert not group or (group.isdigit() and int(group) != 0), f"{name}: USER {users[-1]}"


@pytest.mark.parametrize("name", sorted(EXPECTED_IMAGES))
def test_no_secrets_are_baked_in(name: str) -> None:
    for instruction in parse(dockerfiles()[name]):
        if instruction.keyword in {"ENV", "ARG", "LABEL"}:
            assert not SECRET_WORDS.search(instruction.arguments), instruction
        if instruction.keyword in {"COPY", "ADD"}:
            sources = [a for a in shlex.split(instruction.arguments) if not a.startswith("--")][:-1]
            for source in sources:
                assert not re.search(r"(^|/)\.env|\.pem$|\.key$|id_rsa", source), source
        assert instruction.keyword != "ADD" or "://" not in instruction.arguments


@pytest.mark.parametrize("name", sorted(EXPECTED_IMAGES))
def test_copied_sources_exist_in_the_repository(name: str) -> None:
    for instruction in parse(dockerfiles()[name]):
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        *sources, _ = shlex.split(instruction.arguments)
        for source in sources:
            for function in FUNCTIONS if "${FUNCTION}" in source else (None,):
                path = source.replace("${FUNCTION}", function or "")
                assert (REPO / path).exists(), f"{name}: COPY {path}"


def test_the_function_image_starts_the_target_named_by_its_build_argument() -> None:
    instructions = parse(dockerfiles()["function"])
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    final = instructions[last_from:]
    assert any(i.keyword == "ARG" and i.arguments == "FUNCTION" for i in final)
    env = " ".join(i.arguments for i in final if i.keyword == "ENV")
    assert "FUNCTION_TARGET=${FUNCTION}" in env
    assert "FUNCTION_SOURCE=/app/functions/${FUNCTION}/main.py" in env
    assert "PORT=8080" in env
    assert [i.arguments for i in instructions if i.keyword == "CMD"] == ['["functions-framework"]']
    for function in FUNCTIONS:  # every function the image may be built for has its target
        assert f"def {function}(" in (REPO / "functions" / function / "main.py").read_text()


def test_worker_image_runs_the_scaledjob_command() -> None:
    cmd = [i.arguments for i in parse(dockerfiles()["worker"]) if i.keyword == "CMD"]
    assert cmd == ['["python", "-m", "functions.worker"]']
    assert manifests.scaler_settings()["command"] == ["python", "-m", "functions.worker"]


def test_frontend_is_served_by_unprivileged_nginx_from_tmp() -> None:
    instructions = parse(dockerfiles()["frontend"])
    final = [i for i in instructions if i.keyword == "FROM"][-1].arguments
    assert final.startswith("nginxinc/nginx-unprivileged:")
    conf = (IMAGES_DIR / "frontend" / "nginx.conf").read_text(encoding="utf-8")
    assert "listen 8080;" in conf and "pid /tmp/nginx.pid;" in conf
    assert "location = /healthz" in conf and "try_files $uri $uri/ /index.html;" in conf


def test_build_context_ignores_local_state_and_secrets() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    for pattern in (".git", ".venv", ".sprout", ".env", "**/node_modules", "**/*.pem"):
        assert pattern in ignored, pattern


def test_the_parser_joins_continuations_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("# c\nFROM a:1.2.3\nRUN one \\\n  two\n\nUSER 1:1\n")
    assert parse(path) == [
        Instruction("FROM", "a:1.2.3"),
        Instruction("RUN", "one  two"),
        Instruction("USER", "1:1"),
    ]
