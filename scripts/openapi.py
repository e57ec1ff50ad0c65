"""Generate docs/openapi.json: the OpenAPI document of Shipshape's HTTP API.

The paths and models come from the three HTTP functions' resolvers (Powertools builds each
function's document from its routes and pydantic models); this script merges them into one
document and adds what the resolvers cannot see: how each route authenticates, the status
codes the handlers answer with ``json_response``, the error body every refusal has, and the
webhook bodies, which the ingest handler reads raw (to check the signature) rather than
through a model. Routes are cross-checked against template.yaml, so the document names
exactly the routes API Gateway serves.

    .venv/bin/python scripts/openapi.py          # write the document
    .venv/bin/python scripts/openapi.py --check  # exit 1 if the committed document is stale
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from shipshape.http import ErrorBody
from shipshape.storefronts import generic, shopify, woocommerce
from shipshape.web import ASSETS
from shipshape_local.lambdas import load_handler
from shipshape_local.template import Template

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "openapi.json"
TITLE = "Shipshape API"
OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"

DESCRIPTION = """\
Storefront order webhooks, warehouse events and the operators' API of Shipshape.

Every refusal the handlers make has the body `{"error": <type>, "message": <what to fix>}`;
`error` is a stable name (`SignatureInvalid`, `PayloadInvalid`, `RequestInvalid`, ...). API
Gateway's own refusals (no route, no or bad operator token, a body over its 10 MB limit) have
the body `{"message": ...}`. A refused request changes nothing.

Webhooks are verified over the raw body with the client's webhook secret, fail-closed: a
missing, malformed or wrong signature is refused with 401 and nothing is written. Bodies over
256 KiB are refused with 413 before they are parsed.
"""

# Which function serves which family of routes, and how that family authenticates. Operator
# routes are those behind the OperatorJwt authorizer in template.yaml.
FUNCTIONS = {
    "IngestFunction": "webhooks",
    "WarehouseFunction": "warehouse",
    "OpsFunction": "ops",
}
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "webhooks": [{"shopifyHmac": []}, {"woocommerceSignature": []}, {"shipshapeSignature": []}],
    "warehouse": [{"warehouseToken": []}],
    "ops": [{"operatorJwt": []}],
    "dashboard": [],
}
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "shopifyHmac": {
        "type": "apiKey",
        "in": "header",
        "name": shopify.HMAC_HEADER,
        "description": (
            "Shopify webhooks: base64(HMAC-SHA256(the store's webhook secret, raw body)). "
            f"`{shopify.TOPIC_HEADER}` names the event and `{shopify.SHOP_DOMAIN_HEADER}` the "
            "shop."
        ),
    },
    "woocommerceSignature": {
        "type": "apiKey",
        "in": "header",
        "name": woocommerce.SIGNATURE_HEADER,
        "description": (
            "WooCommerce webhooks: base64(HMAC-SHA256(the webhook secret, raw body)). "
            f"`{woocommerce.TOPIC_HEADER}` names the event and `{woocommerce.SOURCE_HEADER}` "
            "the site. The unsigned ping WooCommerce sends when a webhook is saved (form body "
            "`webhook_id=<n>`) is answered 200 and writes nothing."
        ),
    },
    "shipshapeSignature": {
        "type": "apiKey",
        "in": "header",
        "name": generic.SIGNATURE_HEADER,
        "description": (
            "Shipshape's own webhook format: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "
            '"<t>." + raw body)>`; several `v1=` entries may appear (rotation). `t` must be '
            f"within {generic.DEFAULT_TOLERANCE.total_seconds():g} s of receipt. "
            f"`{generic.SOURCE_HEADER}` names the sender. Instead (or as well), the format "
            "accepts Standard Webhooks signatures: "
            f"`{generic.STANDARD_ID_HEADER}`, `{generic.STANDARD_TIMESTAMP_HEADER}` and "
            f"`{generic.STANDARD_SIGNATURE_HEADER}` (space-separated `v1,<base64 "
            'HMAC-SHA256(secret, "<id>.<timestamp>." + raw body)>`), the secret given to the '
            "sender as `whsec_` + base64(secret); the same tolerance applies. Any "
            "`webhook-*` header selects that scheme, and every scheme present must verify."
        ),
    },
    "warehouseToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The client's warehouse token (one per client, kept in Secrets Manager).",
    },
    "operatorJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "An operator's Cognito ID token, checked by API Gateway's JWT authorizer. Each "
            "operator sees only the clients named in their `custom:clients` claim."
        ),
    },
}

# The success answers the handlers give with ``json_response`` where Powertools, which only
# sees the return type, documents a 200: route -> {status: when}. The first status listed
# takes the model Powertools found; the webhook's 200 also answers WooCommerce's ping.
SUCCESS_STATUSES: dict[str, dict[str, str]] = {
    "POST /webhooks/{platform}/{client_id}": {
        "202": "A new order or a newer version of one: recorded, fulfilment started if paid.",
        "200": "A duplicate or an older version (nothing changed), or WooCommerce's ping.",
    },
    "POST /warehouse/{client_id}/events": {
        "202": "The event is accepted and handed to the waiting workflow step.",
        "200": "This event_id was accepted before: the first answer, marked duplicate.",
    },
    "POST /rules/{client_id}/changes": {"201": "The rule change is proposed."},
    "POST /orders/{order_id}/overrides": {"201": "The override is applied or awaits review."},
    "POST /exceptions/{exception_id}/resolve": {"202": "The resolution is handed over."},
}

# Routes that answer something other than JSON: route -> media types.
MEDIA_TYPES = {
    "GET /dashboard": ["text/html"],
    "GET /dashboard/assets/{name}": sorted({media.split(";")[0] for _, media in ASSETS.values()}),
    "GET /orders/{order_id}/documents/{name}": ["text/html"],
}

# The refusals each family can answer with, and why.
ERRORS: dict[str, dict[str, str]] = {
    "webhooks": {
        "401": "The signature is missing, malformed or wrong, or the store is unknown.",
        "404": "No such client, or no adapter for the platform (or not the client's).",
        "413": "The body is over 256 KiB (or API Gateway's 10 MB).",
        "422": "The topic is not handled, or the body is not a well-formed order.",
        "503": (
            "A dependency of Shipshape's own is unavailable, or a store's API credential is "
            "missing or refused; retry (nothing was lost). A storefront too slow to answer the "
            "read of the order a webhook names is not this: that webhook is accepted (202, "
            "outcome deferred) and reconciliation records the order."
        ),
    },
    "warehouse": {
        "401": "The bearer token is missing or not this client's, or no such client (one answer).",
        "404": "No such order.",
        "409": "The order is not waiting for this event, or the event_id was reused.",
        "413": "The body is over 256 KiB.",
        "422": "The event is malformed or would make stock untrue.",
        "503": "A dependency is unavailable; retry (nothing was lost).",
    },
    "ops": {
        "401": "No valid operator token (API Gateway), or no operator identity.",
        "403": "The operator's role may not do this, on a client they serve.",
        "404": (
            "No such client, order, exception, rule change or override among the operator's "
            "clients: another client's gets the same answer (recorded for that client's review)."
        ),
        "409": "The state changed: already claimed or resolved, or a conflicting change.",
        "413": "The body is over 64 KiB, or a rule change would outgrow its stored record.",
        "422": (
            "A parameter or the body is invalid (too long, too deep, a number over 38 digits); "
            "the message names each field and its limit."
        ),
        "503": "A dependency is unavailable; retry (nothing was lost).",
    },
    "dashboard": {
        "404": "The dashboard has no asset of that name.",
        "422": "A parameter is invalid.",
    },
}
UNSUPPORTED_MEDIA_TYPE = "The body's Content-Type is not one the route reads; send JSON."
# Statuses API Gateway itself may answer (with its own body) before the handler runs: no
# operator token, a body over its limit, or no route (a path parameter holding a "/").
GATEWAY_STATUSES = {
    "401": {"ops"},
    "404": {"webhooks", "warehouse", "ops", "dashboard"},
    "413": {"webhooks", "warehouse", "ops"},
}

GATEWAY_ERROR: dict[str, Any] = {
    "type": "object",
    "title": "GatewayError",
    "description": "API Gateway's own refusal (no route, authorizer, payload limit).",
    "properties": {"message": {"type": "string", "title": "Message"}},
    "required": ["message"],
}

# Webhook bodies per platform: the payload models the adapters validate (unknown fields are
# ignored for Shopify and WooCommerce, refused for Shipshape's own format).
WEBHOOK_BODIES: tuple[type[BaseModel], ...] = (
    shopify.ShopifyOrder,
    woocommerce.WooOrder,
    generic.GenericWebhook,
)
WEBHOOK_HEADERS: tuple[tuple[str, str], ...] = (
    (shopify.TOPIC_HEADER, f"Shopify: one of {sorted(shopify.TOPICS)}."),
    (shopify.SHOP_DOMAIN_HEADER, "Shopify: the shop's myshopify.com domain."),
    (woocommerce.TOPIC_HEADER, f"WooCommerce: one of {sorted(woocommerce.TOPICS)}."),
    (woocommerce.SOURCE_HEADER, "WooCommerce: the site's URL (home_url('/'))."),
    (generic.SOURCE_HEADER, "Shipshape format: the sender's store name."),
)
WOOCOMMERCE_PING: dict[str, Any] = {
    "type": "object",
    "title": "WooCommercePing",
    "properties": {"webhook_id": {"type": "integer", "title": "Webhook Id"}},
    "required": ["webhook_id"],
}


def project_version() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(pyproject["project"]["version"])


def load_functions() -> dict[str, ModuleType]:
    """The HTTP functions' modules, loaded as the embedded runtime loads them (by file path,
    under unique names: every function's module is called ``app``)."""
    template = Template(ROOT / "template.yaml")
    specs = template.functions
    modules = {}
    for logical_id in FUNCTIONS:
        # A function checks its settings when it starts; the document does not depend on
        # their values, so each variable the template sets gets a placeholder if unset.
        spec = specs[logical_id]
        for name in {**template.global_environment, **spec.environment}:
            os.environ.setdefault(name, f"openapi-{name.lower()}")
        load_handler(spec)
        modules[logical_id] = sys.modules[f"shipshape_fn_{logical_id}"]
    return modules


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", path, operation


def _add_schemas(schemas: dict[str, Any], new: dict[str, Any], origin: str) -> None:
    for name, schema in new.items():
        if name in schemas and schemas[name] != schema:
            raise SystemExit(f"{origin}: schema {name!r} differs from another function's")
        schemas[name] = schema


def _model_schema(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A reference to ``model``, adding it and its definitions to the components."""
    schema = model.model_json_schema(ref_template=REF)
    _add_schemas(schemas, schema.pop("$defs", {}), model.__name__)
    _add_schemas(schemas, {model.__name__: schema}, model.__name__)
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_response(why: str, status: str, family: str) -> dict[str, Any]:
    body: dict[str, Any] = {"$ref": REF.format(model="ErrorBody")}
    if family in GATEWAY_STATUSES.get(status, set()):
        body = {"anyOf": [body, {"$ref": REF.format(model="GatewayError")}]}
    response: dict[str, Any] = {"description": why, "content": _json(body)}
    if status == "503":
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return response


def _family(function: str, route_authorizer: str | None) -> str:
    family = FUNCTIONS[function]
    if family == "ops" and route_authorizer is None:
        return "dashboard"  # the static page and its assets are public
    return family


def _document_webhook(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    bodies = [_model_schema(schemas, model) for model in WEBHOOK_BODIES]
    operation["requestBody"] = {
        "required": True,
        "description": (
            "The platform's order payload, exactly as signed: Shopify's REST Order, "
            "WooCommerce's REST v3 order, or Shipshape's own format (see GenericWebhook)."
        ),
        "content": {
            "application/json": {"schema": {"anyOf": bodies}},
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": REF.format(model="WooCommercePing")}
            },
        },
    }
    operation["parameters"].extend(
        {"name": name, "in": "header", "required": False, "description": why,
         "schema": {"type": "string"}}
        for name, why in WEBHOOK_HEADERS
    )  # fmt: skip


def _correct_responses(key: str, family: str, operation: dict[str, Any], ping: Any) -> None:
    responses = operation["responses"]
    found = responses.pop("200")
    statuses = SUCCESS_STATUSES.get(key, {"200": found.get("description", "")})
    for status, why in statuses.items():
        responses[status] = {**copy.deepcopy(found), "description": why}
    if key in MEDIA_TYPES:
        for status in statuses:
            responses[status]["content"] = {
                media: {"schema": {"type": "string"}} for media in MEDIA_TYPES[key]
            }
    if key == "POST /webhooks/{platform}/{client_id}":
        accepted = responses["200"]["content"]["application/json"]["schema"]
        responses["200"]["content"]["application/json"]["schema"] = {"anyOf": [accepted, ping]}
    responses.pop("422", None)  # Powertools' own body; ours is ErrorBody (see shipshape.http)
    for status, why in ERRORS[family].items():
        responses[status] = _error_response(why, status, family)
    if "requestBody" in operation and family in ("warehouse", "ops"):
        # Bodies read as models (not raw, as webhooks are) are JSON, form or multipart data.
        responses["415"] = _error_response(UNSUPPORTED_MEDIA_TYPE, "415", family)
    operation["responses"] = dict(sorted(responses.items()))


def _referenced(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _referenced(value)
    elif isinstance(node, list):
        for value in node:
            yield from _referenced(value)


def _used_schemas(doc: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Only the schemas the paths reach (Powertools' own error models drop out)."""
    seen: set[str] = set()
    todo = list(_referenced(doc["paths"]))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_referenced(schemas[name]))
    return {name: schemas[name] for name in sorted(seen)}


def build() -> dict[str, Any]:
    """The whole document, as a JSON-ready dict."""
    modules = load_functions()
    routes = {(r.method, r.path): r for r in Template(ROOT / "template.yaml").routes}
    version = project_version()
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {
        "ErrorBody": ErrorBody.model_json_schema(ref_template=REF),
        "GatewayError": GATEWAY_ERROR,
        "WooCommercePing": WOOCOMMERCE_PING,
    }
    ping = _model_schema(schemas, modules["IngestFunction"].WebhookPingResponse)
    for logical_id, module in modules.items():
        part = json.loads(module.app.get_openapi_json_schema(title=TITLE, version=version))
        _add_schemas(schemas, part.get("components", {}).get("schemas", {}), logical_id)
        for key, path, operation in _operations(part):
            method = key.split(" ", 1)[0]
            route = routes.pop((method, path), None)
            if route is None or route.function != logical_id:
                raise SystemExit(f"{logical_id} serves {key}, which template.yaml does not route")
            family = _family(logical_id, route.authorizer)
            operation["tags"] = [family]
            operation["security"] = SECURITY[family]
            operation.setdefault("parameters", [])
            if key == "POST /webhooks/{platform}/{client_id}":
                _document_webhook(operation, schemas)
            _correct_responses(key, family, operation, ping)
            if not operation["parameters"]:
                del operation["parameters"]
            paths.setdefault(path, {})[method.lower()] = operation
    unserved = sorted(f"{m} {p}" for (m, p), r in routes.items() if r.function in FUNCTIONS)
    if unserved:
        raise SystemExit(f"template.yaml routes {unserved} that no resolver serves")
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": name} for name in ("webhooks", "warehouse", "ops", "dashboard")],
        "paths": paths,
    }
    doc["components"] = {
        "schemas": _used_schemas(doc, schemas),
        "securitySchemes": SECURITY_SCHEMES,
    }
    return doc


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    shown = TARGET.relative_to(ROOT) if TARGET.is_relative_to(ROOT) else TARGET
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{shown} is stale: run .venv/bin/python scripts/openapi.py", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
