"""The shipped OpenAPI document is valid, generated from the routes, and what they serve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from werkzeug.test import EnvironBuilder

from shared import openapi
from shared.http import Route, Routes

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "shared" / "openapi.json"


def test_shipped_document_is_current() -> None:
    assert SHIPPED.read_text() == openapi.render(), (
        "shared/openapi.json is stale: run `make openapi`"
    )


def test_document_is_valid_openapi_31() -> None:
    validate(json.loads(SHIPPED.read_text()))


def test_every_function_is_documented() -> None:
    found = {main.parent.name for main in (ROOT / "functions").glob("*/main.py")}
    assert found == {"captcha", "containers", "ratelimit"}
    assert len(openapi.function_tables()) == len(found)


def example(path: str, table: Routes) -> str:
    """The path with each parameter filled with a value of its documented shape."""
    fills = {"^[a-z2-7]{12}$": "abcdefgh2345"}
    return re.sub(r"\{(\w+)\}", lambda m: fills.get(table.patterns.get(m[1], ""), "x"), path)


def test_each_documented_operation_is_routed_to_its_handler() -> None:
    document = openapi.document(openapi.function_tables())
    served: dict[tuple[str, str], Route] = {}
    for table in openapi.function_tables():
        for path, operations in document["paths"].items():
            for method in operations:
                environ = EnvironBuilder(path=example(path, table), method=method.upper())
                matched = table.match(environ.get_environ())
                if matched.route is not None:
                    served[(method, path)] = matched.route
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert set(served) == documented
    for (method, path), found in served.items():
        assert (found.method.lower(), found.path) == (method, path)
        assert found.operation is not None
        assert document["paths"][path][method]["operationId"] == found.operation.id


def test_the_only_internal_route_is_each_functions_metrics() -> None:
    for table in openapi.function_tables():
        internal = [(r.method, r.path) for r in table if not r.public]
        assert internal == [("GET", "/metrics")]


def test_a_public_route_without_an_operation_cannot_be_documented() -> None:
    undocumented = Routes(Route("GET", "/nothing", lambda call: None))  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="GET /nothing is public but declares no Operation"):
        openapi.document([undocumented])
