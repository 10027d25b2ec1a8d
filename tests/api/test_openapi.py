"""The shipped OpenAPI document is valid, current, and lists exactly the functions' routes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from openapi_spec_validator import validate

from shared import openapi
from shared.http import Route

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "shared" / "openapi.json"


def test_shipped_document_is_current() -> None:
    assert SHIPPED.read_text() == openapi.render(), (
        "shared/openapi.json is stale: run `python -m shared.openapi > shared/openapi.json`"
    )


def test_document_is_valid_openapi_31() -> None:
    validate(json.loads(SHIPPED.read_text()))


def function_routes() -> dict[str, list[Route]]:
    return {
        main.parent.name: importlib.import_module(f"functions.{main.parent.name}.main").ROUTES
        for main in sorted((ROOT / "functions").glob("*/main.py"))
    }


def test_document_lists_exactly_the_functions_public_routes() -> None:
    served = {
        (r.method.lower(), r.path)
        for routes in function_routes().values()
        for r in routes
        if r.public
    }
    documented = {
        (method, path)
        for path, operations in openapi.document()["paths"].items()
        for method in operations
    }
    assert served == documented


def test_the_only_internal_route_is_each_functions_metrics() -> None:
    tables = function_routes()
    assert set(tables) >= {"captcha", "containers", "ratelimit"}
    for name, routes in tables.items():
        internal = [(r.method, r.path) for r in routes if not r.public]
        assert internal == [("GET", "/metrics")], name
