"""The fake Shopify shop: the part of the Admin API Shipshape uses (REST orders with their
``page_info`` cursors, GraphQL fulfillment orders and ``fulfillmentCreate``, and the REST
webhook subscriptions ``shipshape onboard`` lists and creates). GraphQL is
executed against a schema of the Admin API's types (graphql-core), so a query asking for a
field Shopify does not have fails here too."""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from graphql import GraphQLError, build_schema, graphql_sync

from shipshape_local.storefront_fakes.common import (
    Answer,
    Clock,
    Request,
    Store,
    copied,
    iso,
    parse_iso,
    resource_of,
    secret_matches,
)
from shipshape_local.storefront_fakes.faults import Fault
from shipshape_local.storefronts import Delivery

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
    r"/admin/api/(\d{4}-\d{2})/"
    r"(graphql\.json|orders\.json|orders/(\d+)\.json|products\.json|webhooks\.json)"
)
# The webhook topics a subscription may name (a part of Shopify's list: the order and product
# topics, and the app's own); any other is refused as Shopify refuses an unknown topic.
SHOPIFY_WEBHOOK_TOPICS = frozenset({
    "app/uninstalled", "customers/update", "orders/cancelled", "orders/create",
    "orders/delete", "orders/edited", "orders/fulfilled", "orders/paid",
    "orders/partially_fulfilled", "orders/updated", "products/create", "products/delete",
    "products/update",
})  # fmt: skip
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


class FakeShopify(Store):
    """A Shopify shop: REST order resources, their fulfillment orders (one per order, made
    from the lines that need shipping) and fulfillments."""

    platform = "shopify"

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        super().__init__(store, credential, clock)
        self._ids = itertools.count(5_000_000_001)
        self._orders: dict[int, dict[str, Any]] = {}
        self._fulfillment_orders: dict[int, list[dict[str, Any]]] = {}
        self._fulfillments: dict[int, list[dict[str, Any]]] = {}
        self._products: dict[int, dict[str, Any]] = {}
        self._webhooks: dict[int, dict[str, Any]] = {}

    # --- test helpers

    def webhooks(self) -> list[dict[str, Any]]:
        """The shop's webhook subscriptions (REST Webhook resources), oldest first."""
        return [copied(self._webhooks[key]) for key in sorted(self._webhooks)]

    def put_order(self, source: Mapping[str, Any] | Delivery) -> dict[str, Any]:
        """Store an order resource as given (a dict, or the webhook delivery that carried it),
        keeping its ``updated_at``; its fulfillment order is made from its shippable lines."""
        order = resource_of(source)
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
        return copied(order)

    def update_order(self, order_id: int | str, **changes: Any) -> dict[str, Any]:
        """Change fields of an order as the merchant would; ``updated_at`` moves to now."""
        order = self._orders[int(order_id)]
        order.update(copied(changes))
        order["updated_at"] = iso(self._clock())
        if changes.get("cancelled_at"):
            for fulfillment_order in self._fulfillment_orders.get(int(order_id), []):
                fulfillment_order["status"] = "CANCELLED"
        return copied(order)

    def put_product(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """Store a product resource (REST Product, with its ``variants``) as given."""
        product = resource_of(source)
        self._products[int(product["id"])] = product
        return copied(product)

    def update_product(
        self,
        product_id: int | str,
        variants: Mapping[int, Mapping[str, Any]] | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """Change a product (and variants by id) as the merchant would; ``updated_at`` of
        the product, and of each variant changed, moves to now."""
        product = self._products[int(product_id)]
        product.update(copied(changes))
        now = iso(self._clock())
        for variant in product.get("variants", []):
            if variants and int(variant["id"]) in variants:
                variant.update(copied(dict(variants[int(variant["id"])])))
                variant["updated_at"] = now
        product["updated_at"] = now
        return copied(product)

    def delete_product(self, product_id: int | str) -> None:
        """Delete a product as the merchant would: it leaves the product list."""
        del self._products[int(product_id)]

    def order(self, order_id: int | str) -> dict[str, Any]:
        return copied(self._orders[int(order_id)])

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
        return copied(self._fulfillments.get(int(order_id), []))

    def fulfillment_orders(self, order_id: int | str) -> list[dict[str, Any]]:
        """The order's fulfillment orders: ``id``, ``status``, ``line_items`` (id,
        line_item_id, total, remaining)."""
        return [
            {**fo, "id": _gid("FulfillmentOrder", fo["id"]), "line_items": [
                {**li, "id": _gid("FulfillmentOrderLineItem", li["id"])}
                for li in fo["line_items"]
            ]}
            for fo in copied(self._fulfillment_orders.get(int(order_id), []))
        ]  # fmt: skip

    # --- the API

    def throttled(self, fault: Fault) -> Answer:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return Answer(
            429,
            {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to "
             "resume uninterrupted service."},
            headers,
        )  # fmt: skip

    def failed(self, status: int) -> Answer:
        return Answer(status, {"errors": "Internal Server Error"})

    def handle(self, request: Request) -> Answer:
        if not secret_matches(request.header("X-Shopify-Access-Token"), self.credential):
            return Answer(401, SHOPIFY_UNAUTHORIZED)
        match = _SHOPIFY_PATH.fullmatch(request.path)
        if match is None:
            return Answer(404, {"errors": "Not Found"})
        if match.group(2) == "graphql.json":
            if request.method != "POST":
                return Answer(405, {"errors": "Method Not Allowed"})
            return self._graphql(request)
        if match.group(2) == "webhooks.json":
            return self._webhooks_route(request, match.group(1))
        if request.method != "GET":
            return Answer(405, {"errors": "Method Not Allowed"})
        if match.group(2) == "products.json":
            return self._list_products(request, match.group(1))
        if match.group(3):
            order = self._orders.get(int(match.group(3)))
            return Answer(200, {"order": order}) if order else Answer(404, {"errors": "Not Found"})
        return self._list_orders(request, match.group(1))

    def _list_orders(self, request: Request, version: str) -> Answer:
        cursor = request.param("page_info")
        limit_text = request.param("limit") or "50"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 250:
            return Answer(400, {"errors": {"limit": ["must be between 1 and 250"]}})
        limit = int(limit_text)
        if cursor is not None:
            others = set(request.query) - {"page_info", "limit", "fields"}
            if others:
                return Answer(
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
                return Answer(400, {"errors": {"page_info": ["Invalid value."]}})
        else:
            filters = {k: v[-1] for k, v in request.query.items() if k != "limit"}
            offset = 0
        selected = self._filter(filters)
        if isinstance(selected, Answer):
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
        return Answer(200, {"orders": [copied(o) for o in page]}, headers)

    def _list_products(self, request: Request, version: str) -> Answer:
        """``GET products.json``: by id, ``limit`` (1-250, default 50) per page, the next and
        previous pages in the Link header (``page_info`` cursors, which go with ``limit``
        and ``fields`` only)."""
        limit_text = request.param("limit") or "50"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 250:
            return Answer(400, {"errors": {"limit": ["must be between 1 and 250"]}})
        limit = int(limit_text)
        cursor = request.param("page_info")
        offset = 0
        if cursor is not None:
            if set(request.query) - {"page_info", "limit", "fields"}:
                return Answer(400, {"errors": {"page_info": ["cannot be combined with filters"]}})
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"])
            except (ValueError, KeyError, TypeError):
                return Answer(400, {"errors": {"page_info": ["Invalid value."]}})
        chosen = [self._products[key] for key in sorted(self._products)]
        page = chosen[offset : offset + limit]
        links = []
        base = f"{request.base_url}/admin/api/{version}/products.json"
        for rel, start in (("previous", offset - limit), ("next", offset + limit)):
            if (rel == "previous" and offset > 0) or (rel == "next" and start < len(chosen)):
                token = base64.urlsafe_b64encode(
                    json.dumps({"offset": max(start, 0)}).encode()
                ).decode()
                links.append(
                    f'<{base}?{urlencode({"limit": limit, "page_info": token})}>; rel="{rel}"'
                )
        headers = {"Link": ", ".join(links)} if links else {}
        return Answer(200, {"products": [copied(p) for p in page]}, headers)

    def _webhooks_route(self, request: Request, version: str) -> Answer:
        """``GET webhooks.json`` (``topic``, ``address`` and ``limit`` filters, by id) and
        ``POST webhooks.json`` with ``{"webhook": {"topic", "address", "format"}}``: 201 and
        the new subscription, as the REST Admin API answers (documented shapes:
        tests/events/real/webhooks/, SOURCES.md). A second subscription of the same topic to
        the same address is refused with 422, as Shopify refuses it."""
        if request.method == "GET":
            limit_text = request.param("limit") or "50"
            if not limit_text.isdigit() or not 1 <= int(limit_text) <= 250:
                return Answer(400, {"errors": {"limit": ["must be between 1 and 250"]}})
            topic, address = request.param("topic"), request.param("address")
            chosen = [
                copied(hook)
                for key, hook in sorted(self._webhooks.items())
                if topic in (None, hook["topic"]) and address in (None, hook["address"])
            ]
            return Answer(200, {"webhooks": chosen[: int(limit_text)]})
        if request.method != "POST":
            return Answer(405, {"errors": "Method Not Allowed"})
        document = request.json_body()
        wanted = document.get("webhook") if isinstance(document, dict) else None
        if not isinstance(wanted, dict):
            return Answer(400, {"errors": {"webhook": "Required parameter missing or invalid"}})
        topic, address = wanted.get("topic"), wanted.get("address")
        fmt = wanted.get("format", "json")
        errors: dict[str, list[str]] = {}
        if not isinstance(topic, str) or not topic:
            errors["topic"] = ["can't be blank"]
        elif topic not in SHOPIFY_WEBHOOK_TOPICS:
            errors["topic"] = [f"Invalid topic specified: {topic}"]
        if not isinstance(address, str) or not re.fullmatch(r"https?://[^\s]+", address):
            errors["address"] = ["is invalid"]
        elif any(h["topic"] == topic and h["address"] == address for h in self._webhooks.values()):
            errors["address"] = ["for this topic has already been taken"]
        if fmt not in ("json", "xml"):
            errors["format"] = ["is not included in the list"]
        if errors:
            return Answer(422, {"errors": errors})
        now = iso(self._clock())
        hook = {
            "id": self._next_id(), "address": address, "topic": topic, "created_at": now,
            "updated_at": now, "format": fmt, "fields": [], "metafield_namespaces": [],
            "api_version": version, "private_metafield_namespaces": [],
        }  # fmt: skip
        self._webhooks[hook["id"]] = hook
        return Answer(201, {"webhook": copied(hook)})

    def _filter(self, filters: Mapping[str, str]) -> list[dict[str, Any]] | Answer:
        status = filters.get("status", "open")
        if status not in ("open", "closed", "cancelled", "any"):
            return Answer(400, {"errors": {"status": ["is not a valid status"]}})
        bounds = {}
        for name in ("updated_at_min", "updated_at_max"):
            if filters.get(name):
                moment = parse_iso(filters[name])
                if moment is None:
                    return Answer(400, {"errors": {name: ["is not a valid date"]}})
                bounds[name] = moment
        order_by = filters.get("order", "id asc")
        field_name, _, direction = order_by.partition(" ")
        if field_name not in ("id", "created_at", "updated_at") or direction not in ("asc", "desc"):
            return Answer(400, {"errors": {"order": ["is not a valid sort order"]}})
        chosen = []
        for order in self._orders.values():
            cancelled, closed = bool(order.get("cancelled_at")), bool(order.get("closed_at"))
            if status == "open" and (cancelled or closed):
                continue
            if (status == "closed" and not closed) or (status == "cancelled" and not cancelled):
                continue
            updated = parse_iso(str(order.get("updated_at")))
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
            return (parse_iso(str(order.get(field_name))) or datetime.min.replace(tzinfo=UTC),
                    int(order["id"]))  # fmt: skip

        return sorted(chosen, key=key, reverse=direction == "desc")

    # --- GraphQL

    def _graphql(self, request: Request) -> Answer:
        content_type = request.header("Content-Type").lower()
        if "json" not in content_type:
            return Answer(415, {"errors": "Unsupported Media Type: send application/json"})
        document = request.json_body()
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            return Answer(400, {"errors": {"query": "Required parameter missing or invalid"}})
        variables = document.get("variables") or {}
        if not isinstance(variables, dict):
            return Answer(400, {"errors": {"variables": "must be an object"}})
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
        return Answer(200, answer)

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
            "created_at": iso(self._clock()),
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
        order["updated_at"] = iso(self._clock())


def graphql_throttled(fault: Fault) -> Answer:
    requested, available, restore_rate = fault.cost
    return Answer(
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


def graphql_operation(body: bytes) -> str | None:
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
