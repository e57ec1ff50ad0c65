"""Fake storefront APIs: one real HTTP server on 127.0.0.1 (an ephemeral port) that speaks the
part of Shopify's Admin API (GraphQL fulfillments, REST orders), WooCommerce's REST API v3
(orders, order notes) and BigCommerce's v2 Orders API (orders, products, shipping addresses,
shipments) that Shipshape uses. Used by the tests and the embedded runtime; never shipped.

Stores live under ``/{platform}/{quoted store}/...``, the layout ``SHIPSHAPE_STOREFRONT_API_URL``
gives the API client (``shipshape.storefronts.api``)::

    with FakeStorefronts(dev_credentials()) as fake:
        os.environ["SHIPSHAPE_STOREFRONT_API_URL"] = fake.url
        fake.shopify("acme-outdoors.myshopify.com").put_order(resource)
        fake.inject("shopify", "acme-outdoors.myshopify.com", Fault.slow(2.0),
                    body_contains="fulfillmentCreate")
        ...
        fake.requests_to("shopify", operation="fulfillmentCreate")

What it checks as the platforms do: the credential (wrong or missing: the platform's 401), JSON
bodies and content types, required fields, ids that exist, quantities that remain; GraphQL is
executed against a schema of the Admin API's types (graphql-core), so a query asking for a
field Shopify does not have fails here too. Every request is recorded (times, method, path,
status, the fault it met). Faults are injected per platform and store for the next N matching
requests: 429 with a Retry-After, a 5xx, a slow answer (processed, answered after the client
gave up: a lost answer), a dropped connection (not processed), or a GraphQL THROTTLED.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import hmac
import itertools
import json
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from graphql import GraphQLError, build_schema, graphql_sync

from shipshape.config import ClientConfig, load_client_file
from shipshape_local.storefronts import Delivery, Line, Person, PostalAddress

PLATFORMS = ("shopify", "woocommerce", "bigcommerce")
DEV_SECRETS = Path(__file__).with_name("dev-secrets.toml")
CLIENTS_DIR = Path(__file__).resolve().parents[2] / "config" / "clients"

Clock = Callable[[], datetime]
Json = Any


# --- the request log and faults ---------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it. ``path`` is below the store's prefix, without the query;
    ``status`` is what it answered (0: dropped); ``answered`` whether the answer was written to
    the socket. An entry is recorded as its answer starts to leave (``answered_at``); a slow
    answer's when the request is processed, as not answered (it leaves after the client gave
    up). Times are ``time.monotonic``. Headers are not kept: they
    carry the credentials."""

    platform: str
    store: str
    method: str
    path: str
    query: str
    status: int
    received_at: float
    answered_at: float
    fault: str | None
    operation: str | None
    body: bytes
    answered: bool

    def json(self) -> Json:
        return json.loads(self.body)


FaultKind = Literal["throttle", "server_error", "slow", "drop", "graphql_throttled", "meanwhile"]


@dataclass(frozen=True)
class Fault:
    """What the next matching requests meet instead of (or besides) a normal answer."""

    kind: FaultKind
    status: int = 0
    retry_after: str | None = None
    delay: float = 0.0
    cost: tuple[float, float, float] = (0.0, 0.0, 0.0)  # requested, available, restore rate
    action: Callable[[], object] | None = None

    @classmethod
    def throttle(cls, retry_after: float | str | None = 1) -> Fault:
        """429 with ``Retry-After`` (None: without one); the request is not processed."""
        value = None if retry_after is None else str(retry_after)
        return cls("throttle", status=429, retry_after=value)

    @classmethod
    def server_error(cls, status: int = 503) -> Fault:
        """A 5xx; the request is not processed."""
        return cls("server_error", status=status)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """The request IS processed, and answered only after ``delay`` seconds: longer than
        the client's read timeout, that is a write whose answer is lost."""
        return cls("slow", delay=delay)

    @classmethod
    def drop(cls) -> Fault:
        """The connection is closed before the request is processed, with no answer."""
        return cls("drop")

    @classmethod
    def graphql_throttled(
        cls, requested: float = 110, available: float = 100, restore_rate: float = 100
    ) -> Fault:
        """Shopify GraphQL's 200 answer with a THROTTLED error (the query is not run); the
        wait it implies is (requested - available) / restore_rate seconds."""
        return cls("graphql_throttled", status=200, cost=(requested, available, restore_rate))

    @classmethod
    def meanwhile(cls, action: Callable[[], object]) -> Fault:
        """The request is processed, then ``action`` runs (someone else changing the store,
        say the merchant fulfilling a line by hand), then the answer goes: what the client
        read is already out of date when it arrives."""
        return cls("meanwhile", action=action)


@dataclass
class _FaultRule:
    platform: str
    store: str | None
    fault: Fault
    remaining: int
    method: str | None
    path_contains: str | None
    body_contains: str | None

    def matches(self, platform: str, store: str, request: _Request) -> bool:
        return (
            self.remaining > 0
            and self.platform == platform
            and self.store in (None, store)
            and self.method in (None, request.method)
            and (self.path_contains is None or self.path_contains in request.path)
            and (self.body_contains is None or self.body_contains.encode() in request.body)
        )


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Message
    body: bytes
    base_url: str  # how the client reached this store: for absolute links

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")

    def json_body(self) -> Json:
        """The body as JSON when it is sent as JSON; None when it is not JSON at all."""
        if "json" not in self.header("Content-Type").lower():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class _Answer:
    status: int
    body: Json = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.status == 204 or self.body is None:
            return b""
        return json.dumps(self.body).encode()


class _Store:
    """One store's state and its API; subclasses speak one platform."""

    platform: ClassVar[str]

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        self.store = store
        self.credential = credential
        self._clock = clock
        self._ids = itertools.count(1001)

    def handle(self, request: _Request) -> _Answer:
        raise NotImplementedError

    def throttled(self, fault: Fault) -> _Answer:
        raise NotImplementedError

    def failed(self, status: int) -> _Answer:
        raise NotImplementedError

    def _next_id(self) -> int:
        return next(self._ids)


def _secret_matches(presented: str, expected: str) -> bool:
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


def _copy[T](document: T) -> T:
    return copy.deepcopy(document)


def _resource(source: Mapping[str, Any] | Delivery) -> dict[str, Any]:
    """A resource given as a dict, or as the webhook delivery that carried it."""
    if isinstance(source, Delivery):
        document = json.loads(source.body)
        if not isinstance(document, dict):
            raise ValueError("the delivery's body is not a JSON object")
        return document
    return _copy(dict(source))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- Shopify ----------------------------------------------------------------------------------

SHOPIFY_SCHEMA = build_schema(
    """
    scalar URL
    scalar DateTime

    type Query { order(id: ID!): Order }
    type Mutation {
      fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
    }

    type Order {
      id: ID!
      name: String!
      updatedAt: DateTime!
      displayFulfillmentStatus: String!
      fulfillments(first: Int): [Fulfillment!]!
      fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
    }
    enum FulfillmentStatus { SUCCESS CANCELLED ERROR FAILURE OPEN PENDING }
    type Fulfillment {
      id: ID!
      status: FulfillmentStatus!
      createdAt: DateTime!
      trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
    }
    type FulfillmentTrackingInfo { company: String number: String url: URL }
    type PageInfo {
      hasNextPage: Boolean!
      hasPreviousPage: Boolean!
      startCursor: String
      endCursor: String
    }
    enum FulfillmentOrderStatus {
      OPEN IN_PROGRESS CLOSED CANCELLED INCOMPLETE ON_HOLD SCHEDULED
    }
    type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]! pageInfo: PageInfo! }
    type FulfillmentOrder {
      id: ID!
      status: FulfillmentOrderStatus!
      lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
    }
    type FulfillmentOrderLineItemConnection {
      nodes: [FulfillmentOrderLineItem!]!
      pageInfo: PageInfo!
    }
    type FulfillmentOrderLineItem {
      id: ID!
      totalQuantity: Int!
      remainingQuantity: Int!
      lineItem: LineItem!
    }
    type LineItem { id: ID! sku: String name: String! quantity: Int! }

    input FulfillmentInput {
      lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
      notifyCustomer: Boolean
      trackingInfo: FulfillmentTrackingInput
    }
    input FulfillmentOrderLineItemsInput {
      fulfillmentOrderId: ID!
      fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]
    }
    input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }
    input FulfillmentTrackingInput {
      company: String
      number: String
      numbers: [String!]
      url: URL
      urls: [URL!]
    }
    type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }
    type UserError { field: [String!] message: String! }
    """
)

SHOPIFY_UNAUTHORIZED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
_SHOPIFY_PATH = re.compile(
    r"/admin/api/(\d{4}-\d{2})/(graphql\.json|orders\.json|orders/(\d+)\.json)"
)
_GID = re.compile(r"gid://shopify/(\w+)/(\d+)")
_ROOT_FIELD = re.compile(rb"\{\s*(\w+)")


def _gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def _connection(items: list[Any]) -> Callable[..., dict[str, Any]]:
    """A connection field: Shopify requires ``first`` (or ``last``), at most 250."""

    def resolve(_info: Any, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        if first is None:
            raise GraphQLError("you must provide one of first or last")
        if not 0 <= first <= 250:
            raise GraphQLError("first must be between 0 and 250")
        start = int(after) if after and after.isdigit() else 0
        page = items[start : start + first]
        return {
            "nodes": page,
            "pageInfo": {
                "hasNextPage": start + first < len(items),
                "hasPreviousPage": start > 0,
                "startCursor": str(start) if page else None,
                "endCursor": str(start + len(page)) if page else None,
            },
        }

    return resolve


def _listing(items: list[Any]) -> Callable[..., list[Any]]:
    def resolve(_info: Any, first: int | None = None) -> list[Any]:
        return items if first is None else items[:first]

    return resolve


class FakeShopify(_Store):
    """A Shopify shop: REST order resources, their fulfillment orders (one per order, made
    from the lines that need shipping) and fulfillments."""

    platform = "shopify"

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        super().__init__(store, credential, clock)
        self._ids = itertools.count(5_000_000_001)
        self._orders: dict[int, dict[str, Any]] = {}
        self._fulfillment_orders: dict[int, list[dict[str, Any]]] = {}
        self._fulfillments: dict[int, list[dict[str, Any]]] = {}

    # --- test helpers

    def put_order(self, source: Mapping[str, Any] | Delivery) -> dict[str, Any]:
        """Store an order resource as given (a dict, or the webhook delivery that carried it),
        keeping its ``updated_at``; its fulfillment order is made from its shippable lines."""
        order = _resource(source)
        order_id = int(order["id"])
        order.setdefault("fulfillments", [])
        order.setdefault("closed_at", None)
        self._orders[order_id] = order
        if not self._fulfillments.get(order_id):
            lines = [
                {
                    "id": self._next_id(),
                    "line_item_id": int(item["id"]),
                    "total": int(item["quantity"]),
                    "remaining": int(item.get("fulfillable_quantity", item["quantity"])),
                }
                for item in order.get("line_items", [])
                if item.get("requires_shipping", True)
            ]
            status = "CANCELLED" if order.get("cancelled_at") else "OPEN"
            self._fulfillment_orders[order_id] = [
                {"id": self._next_id(), "status": status, "line_items": lines}
            ]
        return _copy(order)

    def update_order(self, order_id: int | str, **changes: Any) -> dict[str, Any]:
        """Change fields of an order as the merchant would; ``updated_at`` moves to now."""
        order = self._orders[int(order_id)]
        order.update(_copy(changes))
        order["updated_at"] = _iso(self._clock())
        if changes.get("cancelled_at"):
            for fulfillment_order in self._fulfillment_orders.get(int(order_id), []):
                fulfillment_order["status"] = "CANCELLED"
        return _copy(order)

    def order(self, order_id: int | str) -> dict[str, Any]:
        return _copy(self._orders[int(order_id)])

    def fulfill(
        self,
        order_id: int | str,
        line_item_id: int | str,
        quantity: int,
        tracking_number: str | None = None,
    ) -> str:
        """Fulfil units of a line as the merchant would in the Shopify admin; the new
        fulfillment's gid."""
        for fulfillment_order in self._fulfillment_orders[int(order_id)]:
            for line in fulfillment_order["line_items"]:
                if line["line_item_id"] == int(line_item_id) and line["remaining"]:
                    group = {
                        "fulfillmentOrderId": _gid("FulfillmentOrder", fulfillment_order["id"]),
                        "fulfillmentOrderLineItems": [
                            {
                                "id": _gid("FulfillmentOrderLineItem", line["id"]),
                                "quantity": quantity,
                            }
                        ],
                    }
                    tracking = {"number": tracking_number} if tracking_number else None
                    made = self._fulfillment_create(
                        None, {"lineItemsByFulfillmentOrder": [group], "trackingInfo": tracking}
                    )
                    if made["userErrors"]:
                        raise ValueError(made["userErrors"][0]["message"])
                    return str(made["fulfillment"]["id"])
        raise ValueError(f"order {order_id} has no line {line_item_id} left to fulfil")

    def fulfillments(self, order_id: int | str) -> list[dict[str, Any]]:
        """The order's fulfillments: ``id`` (gid), ``status``, ``tracking`` (company, number,
        url), ``notify_customer`` and ``line_items`` (line_item_id, quantity)."""
        return _copy(self._fulfillments.get(int(order_id), []))

    def fulfillment_orders(self, order_id: int | str) -> list[dict[str, Any]]:
        """The order's fulfillment orders: ``id``, ``status``, ``line_items`` (id,
        line_item_id, total, remaining)."""
        return [
            {**fo, "id": _gid("FulfillmentOrder", fo["id"]), "line_items": [
                {**li, "id": _gid("FulfillmentOrderLineItem", li["id"])}
                for li in fo["line_items"]
            ]}
            for fo in _copy(self._fulfillment_orders.get(int(order_id), []))
        ]  # fmt: skip

    # --- the API

    def throttled(self, fault: Fault) -> _Answer:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return _Answer(
            429,
            {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to "
             "resume uninterrupted service."},
            headers,
        )  # fmt: skip

    def failed(self, status: int) -> _Answer:
        return _Answer(status, {"errors": "Internal Server Error"})

    def handle(self, request: _Request) -> _Answer:
        if not _secret_matches(request.header("X-Shopify-Access-Token"), self.credential):
            return _Answer(401, SHOPIFY_UNAUTHORIZED)
        match = _SHOPIFY_PATH.fullmatch(request.path)
        if match is None:
            return _Answer(404, {"errors": "Not Found"})
        if match.group(2) == "graphql.json":
            if request.method != "POST":
                return _Answer(405, {"errors": "Method Not Allowed"})
            return self._graphql(request)
        if request.method != "GET":
            return _Answer(405, {"errors": "Method Not Allowed"})
        if match.group(3):
            order = self._orders.get(int(match.group(3)))
            return (
                _Answer(200, {"order": order}) if order else _Answer(404, {"errors": "Not Found"})
            )
        return self._list_orders(request, match.group(1))

    def _list_orders(self, request: _Request, version: str) -> _Answer:
        cursor = request.param("page_info")
        limit_text = request.param("limit") or "50"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 250:
            return _Answer(400, {"errors": {"limit": ["must be between 1 and 250"]}})
        limit = int(limit_text)
        if cursor is not None:
            others = set(request.query) - {"page_info", "limit", "fields"}
            if others:
                return _Answer(
                    400,
                    {"errors": {"page_info": [
                        f"cannot be combined with {', '.join(sorted(others))}: only limit and "
                        "fields may go with page_info"
                    ]}},
                )  # fmt: skip
            try:
                state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
                filters, offset = dict(state["filters"]), int(state["offset"])
            except (ValueError, KeyError, TypeError):
                return _Answer(400, {"errors": {"page_info": ["Invalid value."]}})
        else:
            filters = {k: v[-1] for k, v in request.query.items() if k != "limit"}
            offset = 0
        selected = self._filter(filters)
        if isinstance(selected, _Answer):
            return selected
        page = selected[offset : offset + limit]
        links = []
        base = f"{request.base_url}/admin/api/{version}/orders.json"
        for rel, start in (("previous", offset - limit), ("next", offset + limit)):
            if (rel == "previous" and offset > 0) or (rel == "next" and start < len(selected)):
                token = base64.urlsafe_b64encode(
                    json.dumps({"filters": filters, "offset": max(start, 0)}).encode()
                ).decode()
                links.append(
                    f'<{base}?{urlencode({"limit": limit, "page_info": token})}>; rel="{rel}"'
                )
        headers = {"Link": ", ".join(links)} if links else {}
        return _Answer(200, {"orders": [_copy(o) for o in page]}, headers)

    def _filter(self, filters: Mapping[str, str]) -> list[dict[str, Any]] | _Answer:
        status = filters.get("status", "open")
        if status not in ("open", "closed", "cancelled", "any"):
            return _Answer(400, {"errors": {"status": ["is not a valid status"]}})
        bounds = {}
        for name in ("updated_at_min", "updated_at_max"):
            if filters.get(name):
                moment = _parse_iso(filters[name])
                if moment is None:
                    return _Answer(400, {"errors": {name: ["is not a valid date"]}})
                bounds[name] = moment
        order_by = filters.get("order", "id asc")
        field_name, _, direction = order_by.partition(" ")
        if field_name not in ("id", "created_at", "updated_at") or direction not in ("asc", "desc"):
            return _Answer(400, {"errors": {"order": ["is not a valid sort order"]}})
        chosen = []
        for order in self._orders.values():
            cancelled, closed = bool(order.get("cancelled_at")), bool(order.get("closed_at"))
            if status == "open" and (cancelled or closed):
                continue
            if (status == "closed" and not closed) or (status == "cancelled" and not cancelled):
                continue
            updated = _parse_iso(str(order.get("updated_at")))
            if updated is None:
                continue
            if "updated_at_min" in bounds and updated < bounds["updated_at_min"]:
                continue
            if "updated_at_max" in bounds and updated > bounds["updated_at_max"]:
                continue
            chosen.append(order)

        def key(order: dict[str, Any]) -> Any:
            if field_name == "id":
                return int(order["id"])
            return (_parse_iso(str(order.get(field_name))) or datetime.min.replace(tzinfo=UTC),
                    int(order["id"]))  # fmt: skip

        return sorted(chosen, key=key, reverse=direction == "desc")

    # --- GraphQL

    def _graphql(self, request: _Request) -> _Answer:
        content_type = request.header("Content-Type").lower()
        if "json" not in content_type:
            return _Answer(415, {"errors": "Unsupported Media Type: send application/json"})
        document = request.json_body()
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            return _Answer(400, {"errors": {"query": "Required parameter missing or invalid"}})
        variables = document.get("variables") or {}
        if not isinstance(variables, dict):
            return _Answer(400, {"errors": {"variables": "must be an object"}})
        result = graphql_sync(
            SHOPIFY_SCHEMA,
            document["query"],
            root_value={"order": self._order_node, "fulfillmentCreate": self._fulfillment_create},
            variable_values=variables,
        )
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [
                {**error.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                if result.data is None
                else error.formatted
                for error in result.errors
            ]
        if result.data is not None:
            answer["data"] = result.data
        answer["extensions"] = {
            "cost": {
                "requestedQueryCost": 10,
                "actualQueryCost": 10,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 1990,
                    "restoreRate": 100.0,
                },
            }
        }
        return _Answer(200, answer)

    def _order_node(self, _info: Any, id: str) -> dict[str, Any] | None:
        match = _GID.fullmatch(id)
        if match is None or match.group(1) != "Order":
            raise GraphQLError(f"Invalid global id '{id}'")
        order_id = int(match.group(2))
        order = self._orders.get(order_id)
        if order is None:
            return None
        by_line = {int(item["id"]): item for item in order.get("line_items", [])}
        fulfillment_orders = [
            {
                "id": _gid("FulfillmentOrder", fo["id"]),
                "status": fo["status"],
                "lineItems": _connection([
                    {
                        "id": _gid("FulfillmentOrderLineItem", li["id"]),
                        "totalQuantity": li["total"],
                        "remainingQuantity": li["remaining"],
                        "lineItem": {
                            "id": _gid("LineItem", li["line_item_id"]),
                            "sku": by_line.get(li["line_item_id"], {}).get("sku"),
                            "name": by_line.get(li["line_item_id"], {}).get("name", ""),
                            "quantity": li["total"],
                        },
                    }
                    for li in fo["line_items"]
                ]),
            }
            for fo in self._fulfillment_orders.get(order_id, [])
        ]  # fmt: skip
        return {
            "id": _gid("Order", order_id),
            "name": order.get("name", ""),
            "updatedAt": order.get("updated_at"),
            "displayFulfillmentStatus": str(order.get("fulfillment_status") or "UNFULFILLED"),
            "fulfillments": _listing([
                {
                    "id": f["id"],
                    "status": f["status"],
                    "createdAt": f["created_at"],
                    "trackingInfo": _listing([f["tracking"]] if f["tracking"] else []),
                }
                for f in self._fulfillments.get(order_id, [])
            ]),
            "fulfillmentOrders": _connection(fulfillment_orders),
        }  # fmt: skip

    def _fulfillment_create(
        self, _info: Any, fulfillment: dict[str, Any], message: str | None = None
    ) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        groups = fulfillment["lineItemsByFulfillmentOrder"]
        plan: list[tuple[dict[str, Any], dict[str, Any], int]] = []
        orders: set[int] = set()
        if not groups:
            errors.append({"field": ["fulfillment"], "message": "Line items must not be empty."})
        for index, group in enumerate(groups):
            where = ["fulfillment", "lineItemsByFulfillmentOrder", str(index)]
            found = self._find_fulfillment_order(str(group["fulfillmentOrderId"]))
            if found is None:
                errors.append({
                    "field": [*where, "fulfillmentOrderId"],
                    "message": "Fulfillment order does not exist.",
                })  # fmt: skip
                continue
            order_id, fulfillment_order = found
            orders.add(order_id)
            if fulfillment_order["status"] not in ("OPEN", "IN_PROGRESS"):
                errors.append({
                    "field": [*where, "fulfillmentOrderId"],
                    "message": f"Fulfillment order is {fulfillment_order['status']}: it cannot "
                    "be fulfilled.",
                })  # fmt: skip
                continue
            items = group.get("fulfillmentOrderLineItems")
            lines = {_gid("FulfillmentOrderLineItem", li["id"]): li
                     for li in fulfillment_order["line_items"]}  # fmt: skip
            if items is None:  # none named: every unit that remains
                items = [{"id": gid, "quantity": li["remaining"]}
                         for gid, li in lines.items() if li["remaining"]]  # fmt: skip
            for position, item in enumerate(items):
                line = lines.get(str(item["id"]))
                place = [*where, "fulfillmentOrderLineItems", str(position)]
                if line is None:
                    errors.append(
                        {
                            "field": [*place, "id"],
                            "message": "Fulfillment order line item does not exist.",
                        }
                    )
                elif not 0 < int(item["quantity"]) <= line["remaining"]:
                    errors.append(
                        {
                            "field": [*place, "quantity"],
                            "message": "Invalid fulfillment order line item quantity requested.",
                        }
                    )
                else:
                    plan.append((fulfillment_order, line, int(item["quantity"])))
        if len(orders) > 1:
            errors.append(
                {
                    "field": ["fulfillment"],
                    "message": "All fulfillment orders must belong to the same order.",
                }
            )
        if errors:
            return {"fulfillment": None, "userErrors": errors}
        (order_id,) = orders
        tracking = fulfillment.get("trackingInfo") or {}
        record = {
            "id": _gid("Fulfillment", self._next_id()),
            "status": "SUCCESS",
            "created_at": _iso(self._clock()),
            "tracking": {
                "company": tracking.get("company"),
                "number": tracking.get("number") or next(iter(tracking.get("numbers") or []), None),
                "url": tracking.get("url"),
            } if tracking else None,
            "notify_customer": bool(fulfillment.get("notifyCustomer")),
            "line_items": [
                {"line_item_id": line["line_item_id"], "quantity": quantity}
                for _, line, quantity in plan
            ],
        }  # fmt: skip
        for fulfillment_order, line, quantity in plan:
            line["remaining"] -= quantity
            done = all(li["remaining"] == 0 for li in fulfillment_order["line_items"])
            fulfillment_order["status"] = "CLOSED" if done else "IN_PROGRESS"
        self._fulfillments.setdefault(order_id, []).append(record)
        self._record_on_order(order_id, record)
        return {
            "fulfillment": {
                "id": record["id"],
                "status": record["status"],
                "createdAt": record["created_at"],
                "trackingInfo": _listing([record["tracking"]] if record["tracking"] else []),
            },
            "userErrors": [],
        }

    def _find_fulfillment_order(self, gid: str) -> tuple[int, dict[str, Any]] | None:
        match = _GID.fullmatch(gid)
        if match is None or match.group(1) != "FulfillmentOrder":
            return None
        wanted = int(match.group(2))
        for order_id, fulfillment_orders in self._fulfillment_orders.items():
            for fulfillment_order in fulfillment_orders:
                if fulfillment_order["id"] == wanted:
                    return order_id, fulfillment_order
        return None

    def _record_on_order(self, order_id: int, record: dict[str, Any]) -> None:
        """The REST resource shows the fulfillment too, as Shopify's does."""
        order = self._orders[order_id]
        shipped: dict[int, int] = {}
        for line in record["line_items"]:
            shipped[line["line_item_id"]] = shipped.get(line["line_item_id"], 0) + line["quantity"]
        for item in order.get("line_items", []):
            if int(item["id"]) in shipped:
                left = int(item.get("fulfillable_quantity", item["quantity"]))
                item["fulfillable_quantity"] = left - shipped[int(item["id"])]
        tracking = record["tracking"] or {}
        order["fulfillments"].append({
            "id": int(record["id"].rsplit("/", 1)[1]),
            "admin_graphql_api_id": record["id"],
            "order_id": order_id,
            "status": "success",
            "tracking_company": tracking.get("company"),
            "tracking_number": tracking.get("number"),
            "tracking_numbers": [tracking["number"]] if tracking.get("number") else [],
            "tracking_url": tracking.get("url"),
            "line_items": [{"id": li["line_item_id"], "quantity": li["quantity"]}
                           for li in record["line_items"]],
            "created_at": record["created_at"],
        })  # fmt: skip
        done = all(
            li["remaining"] == 0
            for fo in self._fulfillment_orders[order_id]
            for li in fo["line_items"]
        )
        order["fulfillment_status"] = "fulfilled" if done else "partial"
        order["updated_at"] = _iso(self._clock())


# --- WooCommerce ------------------------------------------------------------------------------

WOO_STATUSES = (
    "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash",
    "checkout-draft",
)  # fmt: skip
_WOO_PREFIX = "/wp-json/wc/v3/"
_WOO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)


def _woo_error(status: int, code: str, message: str, **data: Any) -> _Answer:
    return _Answer(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _woo_invalid(name: str, why: str) -> _Answer:
    return _woo_error(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why}
    )


class FakeWooCommerce(_Store):
    """A WooCommerce site: orders (REST v3 resources) and their notes. The credential is
    ``consumer_key:consumer_secret``, sent with HTTP Basic auth."""

    platform = "woocommerce"

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        super().__init__(store, credential, clock)
        self._orders: dict[int, dict[str, Any]] = {}
        self._notes: dict[int, list[dict[str, Any]]] = {}

    # --- test helpers

    def put_order(self, source: Mapping[str, Any] | Delivery) -> dict[str, Any]:
        """Store an order resource as given (a dict, or the webhook delivery that carried it),
        keeping its ``date_modified_gmt``."""
        order = _resource(source)
        self._orders[int(order["id"])] = order
        return _copy(order)

    def update_order(self, order_id: int | str, **changes: Any) -> dict[str, Any]:
        """Change fields of an order as the shop manager would; it is modified now."""
        order = self._orders[int(order_id)]
        order.update(_copy(changes))
        self._touch(order)
        return _copy(order)

    def order(self, order_id: int | str) -> dict[str, Any]:
        return _copy(self._orders[int(order_id)])

    def status(self, order_id: int | str) -> str:
        return str(self._orders[int(order_id)]["status"])

    def notes(self, order_id: int | str) -> list[dict[str, Any]]:
        """The order's notes, oldest first (the API lists them newest first)."""
        return _copy(self._notes.get(int(order_id), []))

    def _touch(self, order: dict[str, Any]) -> None:
        now = self._clock()
        order["date_modified"] = order["date_modified_gmt"] = _gmt(now)
        if order.get("status") == "completed" and not order.get("date_completed_gmt"):
            order["date_completed"] = order["date_completed_gmt"] = _gmt(now)

    # --- the API

    def throttled(self, fault: Fault) -> _Answer:
        answer = _woo_error(429, "rest_too_many_requests", "Too many requests. Try again later.")
        if fault.retry_after:
            answer.headers["Retry-After"] = fault.retry_after
        return answer

    def failed(self, status: int) -> _Answer:
        return _woo_error(
            status, "internal_server_error", "There has been a critical error on this website."
        )

    def _authenticate(self, request: _Request) -> _Answer | None:
        header = request.header("Authorization")
        if not header.startswith("Basic "):
            verb = "list resources" if request.method == "GET" else "create resources"
            code = (
                "woocommerce_rest_cannot_view"
                if request.method == "GET"
                else ("woocommerce_rest_cannot_create")
            )
            return _woo_error(401, code, f"Sorry, you cannot {verb}.")
        try:
            presented = base64.b64decode(header[6:].strip(), validate=True).decode()
        except ValueError:
            presented = ""
        key, _, secret = presented.partition(":")
        expected_key, _, expected_secret = self.credential.partition(":")
        if not _secret_matches(key, expected_key):
            return _woo_error(
                401, "woocommerce_rest_authentication_error", "Consumer key is invalid."
            )
        if not _secret_matches(secret, expected_secret):
            return _woo_error(
                401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
            )
        return None

    def handle(self, request: _Request) -> _Answer:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        if not request.path.startswith(_WOO_PREFIX):
            return self._no_route()
        parts = request.path[len(_WOO_PREFIX) :].strip("/").split("/")
        if parts == ["orders"] and request.method == "GET":
            return self._list(request)
        if len(parts) >= 2 and parts[0] == "orders":
            if not parts[1].isdigit():
                return self._no_route()
            order = self._orders.get(int(parts[1]))
            if len(parts) == 2 and request.method == "GET":
                return _Answer(200, _copy(order)) if order else self._no_order()
            if len(parts) == 2 and request.method in ("PUT", "POST", "PATCH"):
                return self._update(request, order)
            if parts[2:] == ["notes"] and request.method == "GET":
                if order is None:
                    return _woo_error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
                notes = self._notes.get(int(parts[1]), [])
                return _Answer(200, [_copy(n) for n in reversed(notes)])
            if parts[2:] == ["notes"] and request.method == "POST":
                return self._add_note(request, order)
        return self._no_route()

    @staticmethod
    def _no_route() -> _Answer:
        return _woo_error(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    @staticmethod
    def _no_order() -> _Answer:
        return _woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")

    def _update(self, request: _Request, order: dict[str, Any] | None) -> _Answer:
        if order is None:
            return self._no_order()
        document = request.json_body()
        if not isinstance(document, dict):
            return _woo_error(400, "rest_invalid_json", "Invalid JSON body passed.")
        if "status" in document:
            if document["status"] not in WOO_STATUSES:
                return _woo_invalid("status", f"status is not one of {', '.join(WOO_STATUSES)}.")
            order["status"] = document["status"]
        self._touch(order)
        return _Answer(200, _copy(order))

    def _add_note(self, request: _Request, order: dict[str, Any] | None) -> _Answer:
        if order is None:
            return _woo_error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        document = request.json_body()
        if document is None and request.body:
            return _woo_error(400, "rest_invalid_json", "Invalid JSON body passed.")
        document = document if isinstance(document, dict) else {}
        note = document.get("note")
        if not isinstance(note, str) or not note.strip():
            return _woo_error(
                400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"]
            )
        customer_note = document.get("customer_note", False)
        if not isinstance(customer_note, bool):
            return _woo_invalid("customer_note", "customer_note is not of type boolean.")
        now = self._clock()
        record = {
            "id": self._next_id(),
            "author": "WooCommerce",
            "date_created": _gmt(now),
            "date_created_gmt": _gmt(now),
            "note": note,
            "customer_note": customer_note,
            "added_by_user": bool(document.get("added_by_user", False)),
        }
        self._notes.setdefault(int(order["id"]), []).append(record)
        return _Answer(201, _copy(record))

    def _list(self, request: _Request) -> _Answer:
        per_page, page = request.param("per_page") or "10", request.param("page") or "1"
        if not per_page.isdigit() or not 1 <= int(per_page) <= 100:
            return _woo_invalid(
                "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"
            )
        if not page.isdigit() or int(page) < 1:
            return _woo_invalid("page", "page must be greater than or equal to 1")
        order_by = request.param("orderby") or "date"
        if order_by not in ("date", "id", "include", "title", "slug", "modified"):
            return _woo_invalid(
                "orderby", "orderby is not one of date, id, include, title, slug, modified."
            )
        direction = request.param("order") or "desc"
        if direction not in ("asc", "desc"):
            return _woo_invalid("order", "order is not one of asc, desc.")
        gmt = (request.param("dates_are_gmt") or "false").lower() in ("true", "1")
        bounds: dict[str, datetime] = {}
        for name in ("modified_after", "modified_before", "after", "before"):
            value = request.param(name)
            if value is None:
                continue
            moment = _parse_iso(value.replace(" ", "T")) if _WOO_DATE.fullmatch(value) else None
            if moment is None:
                return _woo_invalid(name, "Invalid date.")
            bounds[name] = moment
        status = request.param("status") or "any"
        chosen = []
        for order in self._orders.values():
            if status != "any" and order.get("status") not in status.split(","):
                continue
            modified = _parse_iso(str(order.get("date_modified_gmt" if gmt else "date_modified")))
            created = _parse_iso(str(order.get("date_created_gmt" if gmt else "date_created")))
            # WordPress date queries are exclusive at both ends.
            if modified is not None:
                if "modified_after" in bounds and not modified > bounds["modified_after"]:
                    continue
                if "modified_before" in bounds and not modified < bounds["modified_before"]:
                    continue
            if created is not None:
                if "after" in bounds and not created > bounds["after"]:
                    continue
                if "before" in bounds and not created < bounds["before"]:
                    continue
            chosen.append(order)
        date_field = "date_modified_gmt" if order_by == "modified" else "date_created_gmt"

        def key(order: dict[str, Any]) -> Any:
            if order_by in ("id", "include", "title", "slug"):
                return (0, int(order["id"]))
            return (_parse_iso(str(order.get(date_field))) or datetime.min.replace(tzinfo=UTC),
                    int(order["id"]))  # fmt: skip

        chosen.sort(key=key, reverse=direction == "desc")
        size, number = int(per_page), int(page)
        pages = max(1, -(-len(chosen) // size)) if chosen else 0
        if chosen and number > pages:
            return _woo_error(
                400, "woocommerce_rest_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )  # fmt: skip
        body = [_copy(o) for o in chosen[(number - 1) * size : number * size]]
        return _Answer(200, body, {"X-WP-Total": str(len(chosen)), "X-WP-TotalPages": str(pages)})


# --- BigCommerce ------------------------------------------------------------------------------

BIGCOMMERCE_CARRIERS = frozenset(
    {"", "auspost", "canada-post", "dhl", "dhl-express", "fedex", "royal-mail", "ups", "usps"}
)
_BC_STATUS_NAMES = {2: "Shipped", 3: "Partially Shipped", 11: "Awaiting Fulfillment"}


def _bc_error(status: int, message: str, **details: Any) -> _Answer:
    entry: dict[str, Any] = {"status": status, "message": message}
    if details:
        entry["details"] = details
    return _Answer(status, [entry])


def _bc_date(value: str) -> datetime | None:
    moment = _parse_iso(value)
    if moment is not None:
        return moment
    try:
        parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


Bundle = dict[str, Any]  # {"order": ..., "products": [...], "shipping_addresses": [...]}


def bigcommerce_order(
    order_id: int,
    *,
    lines: list[Line],
    person: Person,
    address: PostalAddress,
    modified_at: datetime,
    status_id: int = 11,
    payment_status: str = "captured",
    currency: str = "USD",
) -> Bundle:
    """A real-shaped v2 order (Awaiting Fulfillment, paid) with one shipping address, from the
    simulator's building blocks (``shipshape_local.storefronts``), as the bundle the API
    client's ``fetch_order`` returns: ``{"order", "products", "shipping_addresses"}``."""
    address_id = order_id * 10
    total = sum(float(ln.price) * ln.quantity for ln in lines)
    stamp = format_datetime(modified_at.astimezone(UTC))
    billing = {
        "first_name": person.first_name, "last_name": person.last_name,
        "company": person.company, "street_1": address.line1, "street_2": address.line2,
        "city": address.city, "state": address.region, "zip": address.postal_code,
        "country_iso2": address.country_code, "email": person.email, "phone": person.phone,
    }  # fmt: skip
    order = {
        "id": order_id,
        "customer_id": order_id + 900,
        "date_created": stamp,
        "date_modified": stamp,
        "date_shipped": "",
        "status_id": status_id,
        "status": _BC_STATUS_NAMES.get(status_id, "Awaiting Fulfillment"),
        "payment_status": payment_status,
        "payment_method": "Credit Card",
        "currency_code": currency,
        "default_currency_code": currency,
        "total_inc_tax": f"{total:.4f}",
        "items_total": sum(ln.quantity for ln in lines),
        "items_shipped": 0,
        "is_deleted": False,
        "billing_address": billing,
        "products": {
            "url": f"/v2/orders/{order_id}/products",
            "resource": f"/orders/{order_id}/products",
        },
        "shipping_addresses": {
            "url": f"/v2/orders/{order_id}/shipping_addresses",
            "resource": f"/orders/{order_id}/shipping_addresses",
        },
    }
    products = [
        {
            "id": order_id * 10 + i,
            "order_id": order_id,
            "product_id": 700 + i,
            "order_address_id": address_id,
            "name": ln.title,
            "sku": ln.sku,
            "type": "physical",
            "quantity": ln.quantity,
            "quantity_shipped": 0,
            "base_price": f"{float(ln.price):.4f}",
            "price_inc_tax": f"{float(ln.price):.4f}",
        }
        for i, ln in enumerate(lines, start=1)
    ]
    shipping = {
        **billing,
        "id": address_id,
        "order_id": order_id,
        "country": address.country_code,
        "items_total": sum(ln.quantity for ln in lines),
        "items_shipped": 0,
        "shipping_method": "Flat Rate",
    }
    return {"order": order, "products": products, "shipping_addresses": [shipping]}


class FakeBigCommerce(_Store):
    """A BigCommerce store (the store hash is its name): v2 orders, products, shipping
    addresses and shipments. The credential is an API account's access token."""

    platform = "bigcommerce"

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        super().__init__(store, credential, clock)
        self._orders: dict[int, Bundle] = {}
        self._shipments: dict[int, list[dict[str, Any]]] = {}

    # --- test helpers

    def put_order(self, bundle: Mapping[str, Any]) -> Bundle:
        """Store an order given as its bundle (``bigcommerce_order``, or the simulator's
        ``BigCommerceStore.order``): the v2 order, its products and shipping addresses."""
        stored: Bundle = {
            "order": _copy(dict(bundle["order"])),
            "products": _copy(list(bundle["products"])),
            "shipping_addresses": _copy(list(bundle["shipping_addresses"])),
        }
        self._orders[int(stored["order"]["id"])] = stored
        return _copy(stored)

    def update_order(self, order_id: int | str, **changes: Any) -> dict[str, Any]:
        """Change fields of the v2 order as the merchant would; it is modified now."""
        order = self._orders[int(order_id)]["order"]
        order.update(_copy(changes))
        order["date_modified"] = format_datetime(self._clock().astimezone(UTC))
        return _copy(order)

    def order(self, order_id: int | str) -> Bundle:
        return _copy(self._orders[int(order_id)])

    def shipments(self, order_id: int | str) -> list[dict[str, Any]]:
        return _copy(self._shipments.get(int(order_id), []))

    # --- the API

    def throttled(self, fault: Fault) -> _Answer:
        answer = _Answer(429, {"status": 429, "title": "Too many requests"})
        if fault.retry_after:
            answer.headers["Retry-After"] = fault.retry_after
            with contextlib.suppress(ValueError):  # an HTTP date: no milliseconds to give
                reset = int(float(fault.retry_after) * 1000)
                answer.headers["X-Rate-Limit-Time-Reset-Ms"] = str(reset)
        return answer

    def failed(self, status: int) -> _Answer:
        return _bc_error(status, "Service Unavailable")

    def handle(self, request: _Request) -> _Answer:
        if not _secret_matches(request.header("X-Auth-Token"), self.credential):
            return _Answer(
                401, {"status": 401, "title": "Unauthorized: missing or invalid X-Auth-Token"}
            )
        accept = request.header("Accept").lower()
        if accept and "json" not in accept and "*/*" not in accept:
            return _bc_error(406, "The requested content type is not available.")
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["v2", "orders"]:
            return _bc_error(404, "The requested resource was not found.")
        if len(parts) == 2 and request.method == "GET":
            return self._list(request)
        if len(parts) < 3 or not parts[2].isdigit():
            return _bc_error(404, "The requested resource was not found.")
        held = self._orders.get(int(parts[2]))
        if held is None:
            return _bc_error(404, "The requested resource was not found.")
        what = parts[3:]
        if what == [] and request.method == "GET":
            return _Answer(200, _copy(held["order"]))
        if what == ["products"] and request.method == "GET":
            return self._page(request, held["products"])
        if what == ["shipping_addresses"] and request.method == "GET":
            return self._page(request, held["shipping_addresses"])
        if what == ["shipments"] and request.method == "GET":
            return self._page(request, self._shipments.get(int(parts[2]), []))
        if what == ["shipments"] and request.method == "POST":
            return self._ship(request, held)
        return _bc_error(405, "The requested method is not allowed for this resource.")

    @staticmethod
    def _paging(request: _Request) -> tuple[int, int] | _Answer:
        limit, page = request.param("limit") or "50", request.param("page") or "1"
        if not limit.isdigit() or not 1 <= int(limit) <= 250:
            return _bc_error(400, "The field 'limit' is invalid.")
        if not page.isdigit() or int(page) < 1:
            return _bc_error(400, "The field 'page' is invalid.")
        return int(limit), int(page)

    def _page(self, request: _Request, entries: list[dict[str, Any]]) -> _Answer:
        paging = self._paging(request)
        if isinstance(paging, _Answer):
            return paging
        limit, page = paging
        chosen = entries[(page - 1) * limit : page * limit]
        return _Answer(200, _copy(chosen)) if chosen else _Answer(204)

    def _list(self, request: _Request) -> _Answer:
        paging = self._paging(request)
        if isinstance(paging, _Answer):
            return paging
        bounds = {}
        for name in ("min_date_modified", "max_date_modified"):
            value = request.param(name)
            if value is not None:
                moment = _bc_date(value)
                if moment is None:
                    return _bc_error(400, f"The field '{name}' is invalid.")
                bounds[name] = moment
        sort = request.param("sort") or "id:asc"
        field_name, _, direction = sort.partition(":")
        if field_name not in ("id", "date_created", "date_modified", "status_id") or (
            direction not in ("asc", "desc")
        ):
            return _bc_error(400, "The field 'sort' is invalid.")
        chosen = []
        for held in self._orders.values():
            modified = _bc_date(str(held["order"].get("date_modified")))
            if modified is None:
                continue
            if "min_date_modified" in bounds and modified < bounds["min_date_modified"]:
                continue
            if "max_date_modified" in bounds and modified > bounds["max_date_modified"]:
                continue
            chosen.append(held["order"])

        def key(order: dict[str, Any]) -> Any:
            if field_name in ("id", "status_id"):
                return (int(order[field_name]), int(order["id"]))
            return (_bc_date(str(order.get(field_name))) or datetime.min.replace(tzinfo=UTC),
                    int(order["id"]))  # fmt: skip

        chosen.sort(key=key, reverse=direction == "desc")
        return self._page(request, chosen)

    def _ship(self, request: _Request, held: Bundle) -> _Answer:
        document = request.json_body()
        if not isinstance(document, dict):
            return _bc_error(400, "The request body is not valid JSON.")
        addresses = {int(a["id"]): a for a in held["shipping_addresses"]}
        address_id = document.get("order_address_id")
        if not isinstance(address_id, int) or address_id not in addresses:
            return _bc_error(400, "The field 'order_address_id' is invalid.")
        carrier = document.get("tracking_carrier", "")
        if carrier not in BIGCOMMERCE_CARRIERS:
            return _bc_error(400, "The field 'tracking_carrier' is invalid.")
        tracking = document.get("tracking_number", "")
        if not isinstance(tracking, str) or len(tracking) > 50:
            return _bc_error(400, "The field 'tracking_number' is invalid.")
        items = document.get("items")
        if not isinstance(items, list) or not items:
            return _bc_error(400, "The field 'items' is invalid.")
        products = {int(p["id"]): p for p in held["products"]}
        plan = []
        for item in items:
            entry = item if isinstance(item, dict) else {}
            product_id, quantity = entry.get("order_product_id"), entry.get("quantity")
            product = products.get(product_id) if isinstance(product_id, int) else None
            if product is None or not isinstance(quantity, int):
                return _bc_error(
                    400,
                    "The field 'items' is invalid.",
                    invalid_reason="order_product_id is not a product of the order",
                )
            if not 0 < quantity <= product["quantity"] - product.get("quantity_shipped", 0):
                return _bc_error(
                    400,
                    "The field 'items' is invalid.",
                    invalid_reason="quantity is more than remains to ship",
                )
            plan.append((product, quantity))
        for product, quantity in plan:
            product["quantity_shipped"] = product.get("quantity_shipped", 0) + quantity
        shipped = sum(quantity for _, quantity in plan)
        addresses[address_id]["items_shipped"] = (
            addresses[address_id].get("items_shipped", 0) + shipped
        )
        order = held["order"]
        order["items_shipped"] = order.get("items_shipped", 0) + shipped
        done = all(p.get("quantity_shipped", 0) >= p["quantity"] for p in held["products"])
        order["status_id"] = 2 if done else 3
        order["status"] = _BC_STATUS_NAMES[order["status_id"]]
        now = format_datetime(self._clock().astimezone(UTC))
        order["date_modified"] = now
        if done:
            order["date_shipped"] = now
        shipment = {
            "id": self._next_id(),
            "order_id": order["id"],
            "customer_id": order.get("customer_id"),
            "order_address_id": address_id,
            "date_created": now,
            "tracking_number": tracking,
            "tracking_carrier": carrier,
            "shipping_provider": document.get("shipping_provider", ""),
            "comments": document.get("comments", ""),
            "items": [
                {"order_product_id": p["id"], "product_id": p.get("product_id"), "quantity": q}
                for p, q in plan
            ],
        }
        self._shipments.setdefault(int(order["id"]), []).append(shipment)
        return _Answer(201, _copy(shipment))


# --- the server -------------------------------------------------------------------------------

_STORE_TYPES: dict[str, type[_Store]] = {
    "shopify": FakeShopify,
    "woocommerce": FakeWooCommerce,
    "bigcommerce": FakeBigCommerce,
}


class FakeStorefronts:
    """The fake storefronts' HTTP server. ``credentials`` maps ``(platform, store)`` to the
    credential that store accepts (Shopify access token, WooCommerce ``key:secret``,
    BigCommerce access token); only those stores exist. ``clock`` stamps what the fake
    changes (default: now)."""

    def __init__(
        self,
        credentials: Mapping[tuple[str, str], str],
        *,
        clock: Clock | None = None,
    ) -> None:
        for platform, _ in credentials:
            if platform not in PLATFORMS:
                raise ValueError(f"the fake speaks {', '.join(PLATFORMS)}, not {platform!r}")
        self._credentials = dict(credentials)
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._stores: dict[tuple[str, str], _Store] = {}
        self._rules: list[_FaultRule] = []
        self._log: list[RecordedRequest] = []
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def reset(
        self, credentials: Mapping[tuple[str, str], str], *, clock: Clock | None = None
    ) -> None:
        """Forget every store, fault and logged request, and serve ``credentials`` from now
        on: a fresh fake on the same server (starting and stopping one costs more than a
        test's whole set-up)."""
        with self._lock:
            self._credentials = dict(credentials)
            self._clock = clock or (lambda: datetime.now(UTC))
            self._stores.clear()
            self._rules.clear()
            self._log.clear()

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="fake-storefronts",
        )  # fmt: skip
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # cuts slow answers short
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The value for ``SHIPSHAPE_STOREFRONT_API_URL``."""
        if self._server is None:
            raise RuntimeError("the fake storefronts are not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def store_url(self, platform: str, store: str) -> str:
        return f"{self.url}/{platform}/{quote(store, safe='')}"

    # --- stores

    def shopify(self, shop_domain: str) -> FakeShopify:
        return self._store_of(FakeShopify, "shopify", shop_domain)

    def woocommerce(self, site: str) -> FakeWooCommerce:
        return self._store_of(FakeWooCommerce, "woocommerce", site)

    def bigcommerce(self, store_hash: str) -> FakeBigCommerce:
        return self._store_of(FakeBigCommerce, "bigcommerce", store_hash)

    def _store_of[S: _Store](self, kind: type[S], platform: str, store: str) -> S:
        found = self._store(platform, store)
        if found is None:
            raise KeyError(
                f"no credential for {platform} store {store}: pass it to FakeStorefronts"
            )
        assert isinstance(found, kind)
        return found

    def _store(self, platform: str, store: str) -> _Store | None:
        with self._lock:
            held = self._stores.get((platform, store))
            if held is None and (platform, store) in self._credentials:
                held = _STORE_TYPES[platform](
                    store, self._credentials[platform, store], self._clock
                )
                self._stores[platform, store] = held
            return held

    # --- faults and the log

    def inject(
        self,
        platform: str,
        store: str | None,
        fault: Fault,
        *,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        body_contains: str | None = None,
    ) -> None:
        """The next ``times`` requests to the store (None: any store of the platform) that
        match ``method``, ``path_contains`` and ``body_contains`` meet ``fault``."""
        with self._lock:
            self._rules.append(
                _FaultRule(platform, store, fault, times, method, path_contains, body_contains)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(
        self,
        platform: str | None = None,
        store: str | None = None,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        operation: str | None = None,
    ) -> list[RecordedRequest]:
        """The recorded requests that match every filter given."""
        return [
            r
            for r in self.requests
            if platform in (None, r.platform)
            and store in (None, r.store)
            and method in (None, r.method)
            and (path_contains is None or path_contains in r.path)
            and operation in (None, r.operation)
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # --- serving (called on the server's threads)

    def _serve(self, handler: _Handler, received: float, body: bytes) -> None:
        split = urlsplit(handler.path)
        parts = split.path.split("/", 3)
        platform = parts[1] if len(parts) > 1 else ""
        store = unquote(parts[2]) if len(parts) > 2 else ""
        held = self._store(platform, store) if platform in PLATFORMS else None
        if held is None:
            answer = _Answer(404, {"errors": "Not Found"})
            self._finish(handler, answer, platform, store, split.path, split.query,
                         received, body, None, None)  # fmt: skip
            return
        request = _Request(
            method=handler.command,
            path="/" + (parts[3] if len(parts) > 3 else ""),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=handler.headers,
            body=body,
            base_url=f"http://{handler.headers.get('Host', '')}/{platform}/{parts[2]}",
        )
        operation = (
            _operation(body) if platform == "shopify" and "graphql" in request.path else None
        )
        with self._lock:
            rule = next((r for r in self._rules if r.matches(platform, store, request)), None)
            if rule is not None:
                rule.remaining -= 1
        fault = rule.fault if rule is not None else None
        args = (platform, store, request.path, split.query, received, body, fault, operation)
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            self._record(*args, status=0, answered=False, method=handler.command)
            return
        if fault is not None and fault.kind == "throttle":
            answer = held.throttled(fault)
        elif fault is not None and fault.kind == "server_error":
            answer = held.failed(fault.status)
        elif fault is not None and fault.kind == "graphql_throttled":
            answer = _graphql_throttled(fault)
        else:
            with self._lock:
                answer = held.handle(request)
                if fault is not None and fault.action is not None:
                    fault.action()
            if fault is not None and fault.kind == "slow":
                # Recorded now, as processed: the answer leaves after the client gave up.
                self._record(*args, status=answer.status, answered=False, method=handler.command)
                self._closing.wait(fault.delay)
                self._finish(handler, answer, *args, record=False)
                return
        self._finish(handler, answer, *args)

    def _finish(
        self,
        handler: _Handler,
        answer: _Answer,
        platform: str,
        store: str,
        path: str,
        query: str,
        received: float,
        body: bytes,
        fault: Fault | None,
        operation: str | None,
        *,
        record: bool = True,
    ) -> None:
        payload = answer.encoded()
        # Recorded before the answer leaves: once a client has its answer, the log has it too.
        entry = None
        if record:
            entry = self._record(
                platform, store, path, query, received, body, fault, operation,
                status=answer.status, answered=True, method=handler.command,
            )  # fmt: skip
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            if answer.status != 204:
                handler.send_header("Content-Type", "application/json; charset=utf-8")
                handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:  # the client gave up (a read timeout) and closed its end
            handler.close_connection = True
            if entry is not None:
                with self._lock:
                    where = self._log.index(entry)
                    self._log[where] = dataclasses.replace(entry, answered=False)

    def _record(
        self,
        platform: str,
        store: str,
        path: str,
        query: str,
        received: float,
        body: bytes,
        fault: Fault | None,
        operation: str | None,
        *,
        status: int,
        answered: bool,
        method: str = "",
    ) -> RecordedRequest:
        entry = RecordedRequest(
            platform=platform, store=store, method=method or "?", path=path, query=query,
            status=status, received_at=received, answered_at=time.monotonic(),
            fault=fault.kind if fault else None, operation=operation, body=body,
            answered=answered,
        )  # fmt: skip
        with self._lock:
            self._log.append(entry)
        return entry


def _graphql_throttled(fault: Fault) -> _Answer:
    requested, available, restore_rate = fault.cost
    return _Answer(
        200,
        {
            "errors": [{
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }],
            "extensions": {"cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": restore_rate,
                },
            }},
        },
    )  # fmt: skip


def _operation(body: bytes) -> str | None:
    """A GraphQL request's root field (``order``, ``fulfillmentCreate``), for the log."""
    try:
        query = json.loads(body).get("query", "")
    except (ValueError, AttributeError):
        return None
    match = _ROOT_FIELD.search(str(query).encode())
    if match is None:
        return None
    # The first "{" may open the operation's selection set: its first field is the root field.
    return match.group(1).decode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeStorefronts


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _dispatch(self) -> None:
        received = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self.server.fake._serve(self, received, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request log is FakeStorefronts.requests


# --- credentials --------------------------------------------------------------------------------


def credentials_for(
    clients: Iterable[ClientConfig], secrets: Mapping[str, str]
) -> dict[tuple[str, str], str]:
    """``(platform, store) -> credential`` for every store with an API credential named in
    its client's config and present in ``secrets``."""
    found: dict[tuple[str, str], str] = {}
    for client in clients:
        for store in client.stores:
            name = store.api_token_secret_name
            if name and name in secrets and store.platform.value in PLATFORMS:
                found[store.platform.value, store.store] = secrets[name]
    return found


def dev_credentials(
    config_dir: Path = CLIENTS_DIR, secrets_file: Path = DEV_SECRETS
) -> dict[tuple[str, str], str]:
    """The credentials of the repository's clients, from the development secrets: what the
    embedded runtime's secret store holds, so the API client and the fake agree."""
    secrets = tomllib.loads(secrets_file.read_text(encoding="utf-8"))["secrets"]
    clients = [load_client_file(path) for path in sorted(config_dir.glob("*.toml"))]
    return credentials_for(clients, secrets)
