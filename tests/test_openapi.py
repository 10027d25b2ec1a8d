"""The shipped OpenAPI document is valid, current, and lists exactly the functions' routes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from openapi_spec_validator import validate

from shared import openapi

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "shared" / "openapi.json"


def test_shipped_document_is_current() -> None:
    assert SHIPPED.read_text() == openapi.render(), (
        "shared/openapi.json is stale: run `python -m shared.openapi > shared/openapi.json`"
    )


def test_document_is_valid_openapi_31() -> None:
    validate(json.loads(SHIPPED.read_text()))


def test_document_lists_exactly_the_functions_routes() -> None:
    served = set()
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        module = importlib.import_module(f"functions.{main.parent.name}.main")
        served |= {(r.method.lower(), r.path) for r in module.ROUTES}
    documented = {
        (method, path)
        for path, operations in openapi.document()["paths"].items()
        for method in operations
    }
    assert served == documented
