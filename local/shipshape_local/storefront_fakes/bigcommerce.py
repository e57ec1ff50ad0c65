"""The fake BigCommerce store: the v2 Orders API Shipshape uses (orders, products, shipping
addresses, shipments) and the v3 webhooks ``shipshape onboard`` lists, creates and updates,
with the ``X-Auth-Token`` credential, and ``bigcommerce_order``, a real-shaped order bundle
built from the simulator's building blocks."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from shipshape_local.storefront_fakes.common import (
    Answer,
    Clock,
    Request,
    Store,
    copied,
    parse_iso,
    secret_matches,
)
from shipshape_local.storefront_fakes.faults import Fault
from shipshape_local.storefronts import Line, Person, PostalAddress

BIGCOMMERCE_CARRIERS = frozenset(
    {"", "auspost", "canada-post", "dhl", "dhl-express", "fedex", "royal-mail", "ups", "usps"}
)
_BC_STATUS_NAMES = {2: "Shipped", 3: "Partially Shipped", 11: "Awaiting Fulfillment"}


def _bc_error(status: int, message: str, **details: Any) -> Answer:
    entry: dict[str, Any] = {"status": status, "message": message}
    if details:
        entry["details"] = details
    return Answer(status, [entry])


def _bc_unprocessable(errors: dict[str, str]) -> Answer:
    """A v3 422 (``errorDetailed_Full``): the fields missing or unacceptable."""
    return Answer(
        422,
        {
            "status": 422,
            "title": "JSON data is missing or invalid",
            "type": "/api-docs/getting-started/api-status-codes",
            "errors": errors,
        },
    )


def _bc_date(value: str) -> datetime | None:
    moment = parse_iso(value)
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


class FakeBigCommerce(Store):
    """A BigCommerce store (the store hash is its name): v2 orders, products, shipping
    addresses and shipments. The credential is an API account's access token."""

    platform = "bigcommerce"

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        super().__init__(store, credential, clock)
        self._orders: dict[int, Bundle] = {}
        self._shipments: dict[int, list[dict[str, Any]]] = {}
        self._products: dict[int, dict[str, Any]] = {}
        self._hooks: dict[int, dict[str, Any]] = {}

    # --- test helpers

    def hooks(self) -> list[dict[str, Any]]:
        """The store's webhooks (v3 ``webhook_Full``), oldest first."""
        return [copied(self._hooks[key]) for key in sorted(self._hooks)]

    def put_order(self, bundle: Mapping[str, Any]) -> Bundle:
        """Store an order given as its bundle (``bigcommerce_order``, or the simulator's
        ``BigCommerceStore.order``): the v2 order, its products and shipping addresses."""
        stored: Bundle = {
            "order": copied(dict(bundle["order"])),
            "products": copied(list(bundle["products"])),
            "shipping_addresses": copied(list(bundle["shipping_addresses"])),
        }
        self._orders[int(stored["order"]["id"])] = stored
        return copied(stored)

    def update_order(self, order_id: int | str, **changes: Any) -> dict[str, Any]:
        """Change fields of the v2 order as the merchant would; it is modified now."""
        order = self._orders[int(order_id)]["order"]
        order.update(copied(changes))
        order["date_modified"] = format_datetime(self._clock().astimezone(UTC))
        return copied(order)

    def order(self, order_id: int | str) -> Bundle:
        return copied(self._orders[int(order_id)])

    def shipments(self, order_id: int | str) -> list[dict[str, Any]]:
        return copied(self._shipments.get(int(order_id), []))

    # --- the API

    def throttled(self, fault: Fault) -> Answer:
        answer = Answer(429, {"status": 429, "title": "Too many requests"})
        if fault.retry_after:
            answer.headers["Retry-After"] = fault.retry_after
            with contextlib.suppress(ValueError):  # an HTTP date: no milliseconds to give
                reset = int(float(fault.retry_after) * 1000)
                answer.headers["X-Rate-Limit-Time-Reset-Ms"] = str(reset)
        return answer

    def failed(self, status: int) -> Answer:
        return _bc_error(status, "Service Unavailable")

    def handle(self, request: Request) -> Answer:
        if not secret_matches(request.header("X-Auth-Token"), self.credential):
            return Answer(
                401, {"status": 401, "title": "Unauthorized: missing or invalid X-Auth-Token"}
            )
        accept = request.header("Accept").lower()
        if accept and "json" not in accept and "*/*" not in accept:
            return _bc_error(406, "The requested content type is not available.")
        parts = request.path.strip("/").split("/")
        if parts == ["v3", "catalog", "products"] and request.method == "GET":
            return self._catalog(request)
        if parts[:2] == ["v3", "hooks"]:
            return self._hooks_route(request, parts[2:])
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
            return Answer(200, copied(held["order"]))
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
    def _paging(request: Request) -> tuple[int, int] | Answer:
        limit, page = request.param("limit") or "50", request.param("page") or "1"
        if not limit.isdigit() or not 1 <= int(limit) <= 250:
            return _bc_error(400, "The field 'limit' is invalid.")
        if not page.isdigit() or int(page) < 1:
            return _bc_error(400, "The field 'page' is invalid.")
        return int(limit), int(page)

    def _catalog(self, request: Request) -> Answer:
        """``GET /v3/catalog/products``: by id, ``limit`` (1-250, default 50) and ``page``,
        wrapped as v3 answers are (``data``, ``meta.pagination``); ``include=variants``
        adds each product's variants."""
        paging = self._paging(request)
        if isinstance(paging, Answer):
            return paging
        limit, page = paging
        chosen = [copied(self._products[key]) for key in sorted(self._products)]
        variants = "variants" in (request.param("include") or "").split(",")
        for product in chosen:
            if not variants:
                product.pop("variants", None)
        pages = -(-len(chosen) // limit)
        data = chosen[(page - 1) * limit : page * limit]
        pagination = {"total": len(chosen), "count": len(data), "per_page": limit,
                      "current_page": page, "total_pages": pages}  # fmt: skip
        return Answer(200, {"data": data, "meta": {"pagination": pagination}})

    def _hooks_route(self, request: Request, rest: list[str]) -> Answer:
        """``GET /v3/hooks`` (``scope``, ``destination``, ``is_active`` filters; ``page`` and
        ``limit``), ``POST /v3/hooks`` (``scope`` and ``destination`` required) and
        ``PUT /v3/hooks/{id}``, answered as v3 answers (``data``, ``meta``; documented shapes:
        tests/events/real/webhooks/, SOURCES.md). BigCommerce's own rule that a destination is
        served on port 443 is not enforced here: the embedded stack serves on a local port."""
        if not rest and request.method == "GET":
            paging = self._paging(request)
            if isinstance(paging, Answer):
                return paging
            limit, page = paging
            scope, destination = request.param("scope"), request.param("destination")
            active = request.param("is_active")
            chosen = [
                copied(hook)
                for key, hook in sorted(self._hooks.items())
                if scope in (None, hook["scope"])
                and destination in (None, hook["destination"])
                and active in (None, str(hook["is_active"]).lower())
            ]
            data = chosen[(page - 1) * limit : page * limit]
            pagination = {
                "total": len(chosen),
                "count": len(data),
                "per_page": limit,
                "current_page": page,
                "total_pages": -(-len(chosen) // limit),
            }
            return Answer(200, {"data": data, "meta": {"pagination": pagination}})
        document = request.json_body()
        if request.method in ("POST", "PUT") and not isinstance(document, dict):
            return Answer(
                400,
                {
                    "status": 400,
                    "title": "Input is invalid.",
                    "type": "/api-docs/getting-started/api-status-codes",
                },
            )
        if not rest and request.method == "POST":
            assert isinstance(document, dict)
            missing = {
                name: "error.path.missing."
                for name in ("scope", "destination")
                if not isinstance(document.get(name), str) or not document[name]
            }
            if missing:
                return _bc_unprocessable(missing)
            now = int(self._clock().timestamp())
            hook = {
                "id": self._next_id(),
                "client_id": "shipshapeapiaccount",
                "store_hash": self.store,
                "created_at": now,
                "updated_at": now,
                "scope": document["scope"],
                "destination": document["destination"],
                "is_active": bool(document.get("is_active", True)),
                "headers": copied(document.get("headers")),
            }
            self._hooks[hook["id"]] = hook
            return Answer(200, {"data": copied(hook), "meta": {}})
        if len(rest) == 1 and rest[0].isdigit() and request.method == "PUT":
            assert isinstance(document, dict)
            held = self._hooks.get(int(rest[0]))
            if held is None:
                return Answer(
                    404,
                    {
                        "status": 404,
                        "title": f"Webhook with id [{rest[0]}] not found",
                        "type": "/api-docs/getting-started/api-status-codes",
                    },
                )
            for name in ("scope", "destination", "is_active", "headers"):
                if name in document:
                    held[name] = copied(document[name])
            held["updated_at"] = int(self._clock().timestamp())
            return Answer(200, {"data": copied(held), "meta": {}})
        return _bc_error(405, "The requested method is not allowed for this resource.")

    def put_product(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """Store a v3 Catalog product resource (with its ``variants``) as given."""
        product = copied(dict(source))
        self._products[int(product["id"])] = product
        return copied(product)

    def _page(self, request: Request, entries: list[dict[str, Any]]) -> Answer:
        paging = self._paging(request)
        if isinstance(paging, Answer):
            return paging
        limit, page = paging
        chosen = entries[(page - 1) * limit : page * limit]
        return Answer(200, copied(chosen)) if chosen else Answer(204)

    def _list(self, request: Request) -> Answer:
        paging = self._paging(request)
        if isinstance(paging, Answer):
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

    def _ship(self, request: Request, held: Bundle) -> Answer:
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
        return Answer(201, copied(shipment))
