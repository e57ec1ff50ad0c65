"""docs/openapi.json is exactly what scripts/openapi.py generates from the handlers' resolvers,
so the document cannot drift from the code (and what it says about authentication holds)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """scripts/openapi.py, loaded by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("shipshape_openapi", ROOT / "scripts/openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))


def test_the_committed_document_is_what_the_resolvers_generate(generator: ModuleType) -> None:
    # Given the committed document and the handlers as they are now
    # When the generator runs in check mode
    status = generator.main(["--check"])
    # Then it finds the document current (else: .venv/bin/python scripts/openapi.py)
    assert status == 0, "docs/openapi.json is stale: run .venv/bin/python scripts/openapi.py"


def test_the_check_fails_on_a_stale_document(
    generator: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a document that no longer matches the handlers (one route's summary edited)
    stale = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    stale["paths"]["/me"]["get"]["summary"] = "GET /whoami"
    target = tmp_path / "openapi.json"
    target.write_text(json.dumps(stale, indent=2) + "\n", encoding="utf-8")
    monkeypatch.setattr(generator, "TARGET", target)
    # When the check runs against it
    status = generator.main(["--check"])
    # Then it fails
    assert status == 1


def test_every_route_says_how_it_authenticates(document: dict[str, Any]) -> None:
    # Given the document's operations
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    schemes = document["components"]["securitySchemes"]
    # Then webhooks name their platforms' signature headers, warehouse events a bearer token,
    # the ops API the operators' JWT; only the dashboard's static page and assets are public
    webhook = operations.pop("POST /webhooks/{platform}/{client_id}")
    assert webhook["security"] == [
        {"shopifyHmac": []},
        {"woocommerceSignature": []},
        {"shipshapeSignature": []},
    ]
    assert [schemes[name]["name"] for name in ("shopifyHmac", "woocommerceSignature")] == [
        "X-Shopify-Hmac-Sha256",
        "X-WC-Webhook-Signature",
    ]
    assert schemes["shipshapeSignature"]["name"] == "Shipshape-Signature"
    assert operations.pop("POST /warehouse/{client_id}/events")["security"] == [
        {"warehouseToken": []}
    ]
    public = {key for key, op in operations.items() if not op["security"]}
    assert public == {"GET /dashboard", "GET /dashboard/assets/{name}"}
    assert all(
        op["security"] == [{"operatorJwt": []}] for k, op in operations.items() if k not in public
    )
    assert schemes["operatorJwt"] == {
        **schemes["operatorJwt"],
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_every_refusal_has_the_error_body(document: dict[str, Any]) -> None:
    # Given every 4xx and 5xx response the document describes
    bodies = [
        (status, response["content"]["application/json"]["schema"])
        for item in document["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        if status >= "400"
    ]
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    # Then each is the project's error body (or, for API Gateway's own 401, 404 and 413, its body)
    assert bodies
    for status, schema in bodies:
        assert schema == error_body or (
            status in ("401", "404", "413") and error_body in schema["anyOf"]
        ), (status, schema)
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error", "message"]


def test_the_document_carries_the_project_version(document: dict[str, Any]) -> None:
    # Given the version in pyproject.toml
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    # Then the document is titled and versioned as the project
    assert document["info"]["title"] == "Shipshape API"
    assert document["info"]["version"] == version
