"""The image definitions in deploy/images/: they cannot be built here (no container engine),
so they are checked for what matters structurally: a pinned base, a numeric non-root user,
no secrets, the right entry point for each function (one definition, built once per
function with --build-arg FUNCTION), and each image's import set (see `reached`)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


# Each image's import set ------------------------------------------------------------------
#
# An image installs the base dependencies and its own extra (pyproject.toml). What its code
# imports is found statically: from its entry points, every import statement of every module
# of ours they reach, at any depth (an import inside a function counts: the worker imports
# the Kubernetes client lazily), is followed. Building each image, or installing each extra
# into a throwaway venv, would take minutes and the network; the walk takes milliseconds and
# sees imports that a run would only reach on some paths. What each extra installs is the
# closure of its requirements, read from the installed packages' metadata.

ENTRY_POINTS = {
    "function": [f"functions.{function}.main" for function in FUNCTIONS] + ["functions_framework"],
    "worker": ["functions.worker.__main__"],
}
KEPT_OUT = {  # what each image must not ship
    "function": {"kubernetes"},
    "worker": {"flask", "werkzeug", "functions-framework", "numpy", "pillow"},
}
OURS = ("shared", "functions")


def module_file(name: str) -> Path | None:
    """The file of one of our modules (a package's __init__.py), or None: not a module."""
    base = REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


class Imports(ast.NodeVisitor):
    """Every module an import statement may name (`from a import b`: a, and a.b if a module),
    skipping `if TYPE_CHECKING:` blocks, which never run."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.names: list[str] = []

    def visit_If(self, node: ast.If) -> None:
        if getattr(node.test, "id", "") != "TYPE_CHECKING":
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names += [alias.name for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parent = self.package.rsplit(".", node.level - 1)[0]
            base = f"{parent}.{base}" if base else parent
        self.names += [base] + [f"{base}.{alias.name}" for alias in node.names]


def reached(entries: list[str]) -> tuple[set[Path], set[str]]:
    """Our module files the entry points import, and the top-level names of all else."""
    ours: set[Path] = set()
    others: set[str] = set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        top = name.split(".")[0]
        if top not in OURS:
            if top not in sys.stdlib_module_names:
                others.add(top)
            continue
        path = module_file(name)
        if path is None or path in ours:
            continue
        ours.add(path)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parents import first
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imports = Imports(package)
        imports.visit(ast.parse(path.read_text(encoding="utf-8")))
        todo += imports.names
    return ours, others


def installed(requirements: list[str]) -> set[str]:
    """The distributions pip installs for `requirements`: their requirements, followed."""
    seen: set[tuple[str, str]] = set()
    found: set[str] = set()
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        found.add(name)
        for extra in ("", *requirement.extras):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for text in importlib.metadata.requires(name) or []:
                needed = Requirement(text)
                if needed.marker is None or needed.marker.evaluate({"extra": extra}):
                    todo.append(needed)
    return found


def image_requirements(image: str) -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"][image]]


def distributions_of(top_level: str) -> set[str]:
    names = importlib.metadata.packages_distributions().get(top_level)
    assert names, f"no installed distribution provides `import {top_level}`"
    return {canonicalize_name(name) for name in names}


@pytest.mark.parametrize("image", sorted(ENTRY_POINTS))
def test_each_image_installs_what_its_code_imports(image: str) -> None:
    _, imports = reached(ENTRY_POINTS[image])
    needed = set().union(*(distributions_of(top) for top in imports))
    assert needed <= installed(image_requirements(image)), image


@pytest.mark.parametrize("image", sorted(ENTRY_POINTS))
def test_each_image_ships_none_of_what_belongs_to_another(image: str) -> None:
    shipped = installed(image_requirements(image))
    assert not shipped & KEPT_OUT[image], image
    _, imports = reached(ENTRY_POINTS[image])
    for top in imports:
        assert not distributions_of(top) & KEPT_OUT[image], (image, top)


@pytest.mark.parametrize("image", sorted(ENTRY_POINTS))
def test_each_image_installs_its_extra_and_copies_the_code_it_reaches(image: str) -> None:
    instructions = parse(dockerfiles()[image])
    runs = " ".join(i.arguments for i in instructions if i.keyword == "RUN")
    assert f"pip install '.[{image}]'" in runs
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    copied = [
        shlex.split(ins.arguments)[0]
        for ins in instructions[last_from:]
        if ins.keyword == "COPY" and "--from=" not in ins.arguments
    ]
    for function in FUNCTIONS if image == "function" else ("",):
        entries = [e for e in ENTRY_POINTS[image] if e.startswith("functions.")]
        entries = [e for e in entries if image != "function" or f".{function}." in e]
        ours, _ = reached(entries)
        sources = [source.replace("${FUNCTION}", function) for source in copied]
        for path in ours:
            relative = path.relative_to(REPO).as_posix()
            assert any(relative.startswith(source) for source in sources), (image, relative)


def test_the_walk_follows_lazy_imports_and_skips_type_checking_ones() -> None:
    ours, imports = reached(["functions.worker.__main__"])
    assert "kubernetes" in imports  # imported inside run_job only
    assert REPO / "functions" / "worker" / "job.py" in ours
    ours, imports = reached(["shared.openapi"])
    assert REPO / "shared" / "http.py" not in ours  # named under TYPE_CHECKING only
    assert "flask" not in imports


def test_dev_installs_every_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (itself,) = [r for r in project["optional-dependencies"]["dev"] if r.startswith("sprout[")]
    assert set(Requirement(itself).extras) == set(ENTRY_POINTS)
