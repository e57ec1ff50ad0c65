"""The fake WooCommerce site: the REST API v3 orders and order notes Shipshape uses, and the
webhooks ``shipshape onboard`` lists and creates, with HTTP Basic auth (consumer key and
secret) and WordPress's errors, dates and paging."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shipshape_local.storefront_fakes.common import (
    Answer,
    Clock,
    Request,
    Store,
    copied,
    gmt,
    parse_iso,
    resource_of,
    secret_matches,
)
from shipshape_local.storefront_fakes.faults import Fault
from shipshape_local.storefronts import Delivery

WOO_STATUSES = (
    "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash",
    "checkout-draft",
)  # fmt: skip
_WOO_PREFIX = "/wp-json/wc/v3/"
# WooCommerce's core webhook topics (REST API reference, "Webhooks", "Topics"), each with the
# WordPress actions it binds (``hooks``; order.updated's as the reference's example lists
# them, the others cut to their main action).
WOO_WEBHOOK_TOPICS: dict[str, list[str]] = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "customer.created": ["user_register", "woocommerce_created_customer",
                         "woocommerce_api_create_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_process_shop_order_meta", "woocommerce_api_edit_order",
                      "woocommerce_order_edit_status", "woocommerce_order_status_changed"],
    "order.deleted": ["wp_trash_post"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product"],
    "product.deleted": ["wp_trash_post"],
}  # fmt: skip
_WEBHOOK_STATUSES = ("active", "paused", "disabled")
_WOO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)


def _woo_error(status: int, code: str, message: str, **data: Any) -> Answer:
    return Answer(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _woo_invalid(name: str, why: str) -> Answer:
    return _woo_error(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why}
    )


class FakeWooCommerce(Store):
    """A WooCommerce site: orders (REST v3 resources) and their notes. The credential is
    ``consumer_key:consumer_secret``, sent with HTTP Basic auth."""

    platform = "woocommerce"

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        super().__init__(store, credential, clock)
        self._orders: dict[int, dict[str, Any]] = {}
        self._notes: dict[int, list[dict[str, Any]]] = {}
        self._products: dict[int, dict[str, Any]] = {}
        self._variations: dict[int, dict[int, dict[str, Any]]] = {}
        self._webhooks: dict[int, dict[str, Any]] = {}
        self._webhook_secrets: dict[int, str] = {}

    # --- test helpers

    def webhooks(self) -> list[dict[str, Any]]:
        """The site's webhooks as the API shows them (no secret), oldest first."""
        return [copied(self._webhooks[key]) for key in sorted(self._webhooks)]

    def webhook_secret(self, webhook_id: int) -> str:
        """The secret a webhook signs with (write-only in the API: the merchant's view)."""
        return self._webhook_secrets[webhook_id]

    def put_order(self, source: Mapping[str, Any] | Delivery) -> dict[str, Any]:
        """Store an order resource as given (a dict, or the webhook delivery that carried it),
        keeping its ``date_modified_gmt``."""
        order = resource_of(source)
        self._orders[int(order["id"])] = order
        return copied(order)

    def update_order(self, order_id: int | str, **changes: Any) -> dict[str, Any]:
        """Change fields of an order as the shop manager would; it is modified now."""
        order = self._orders[int(order_id)]
        order.update(copied(changes))
        self._touch(order)
        return copied(order)

    def put_product(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """Store a product resource as given; a variable product's variations go with
        ``put_variation``."""
        product = resource_of(source)
        product.setdefault("variations", [])
        self._products[int(product["id"])] = product
        return copied(product)

    def put_variation(self, product_id: int | str, source: Mapping[str, Any]) -> dict[str, Any]:
        variation = {**resource_of(source), "parent_id": int(product_id)}
        self._variations.setdefault(int(product_id), {})[int(variation["id"])] = variation
        parent = self._products[int(product_id)]
        parent["variations"] = sorted(self._variations[int(product_id)])
        return copied(variation)

    def update_product(self, product_id: int | str, **changes: Any) -> dict[str, Any]:
        """Change a product as the merchant would; ``date_modified_gmt`` moves to now."""
        product = self._products[int(product_id)]
        product.update(copied(changes))
        product["date_modified_gmt"] = gmt(self._clock())
        return copied(product)

    def order(self, order_id: int | str) -> dict[str, Any]:
        return copied(self._orders[int(order_id)])

    def status(self, order_id: int | str) -> str:
        return str(self._orders[int(order_id)]["status"])

    def notes(self, order_id: int | str) -> list[dict[str, Any]]:
        """The order's notes, oldest first (the API lists them newest first)."""
        return copied(self._notes.get(int(order_id), []))

    def _touch(self, order: dict[str, Any]) -> None:
        now = self._clock()
        order["date_modified"] = order["date_modified_gmt"] = gmt(now)
        if order.get("status") == "completed" and not order.get("date_completed_gmt"):
            order["date_completed"] = order["date_completed_gmt"] = gmt(now)

    # --- the API

    def throttled(self, fault: Fault) -> Answer:
        answer = _woo_error(429, "rest_too_many_requests", "Too many requests. Try again later.")
        if fault.retry_after:
            answer.headers["Retry-After"] = fault.retry_after
        return answer

    def failed(self, status: int) -> Answer:
        return _woo_error(
            status, "internal_server_error", "There has been a critical error on this website."
        )

    def _authenticate(self, request: Request) -> Answer | None:
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
        if not secret_matches(key, expected_key):
            return _woo_error(
                401, "woocommerce_rest_authentication_error", "Consumer key is invalid."
            )
        if not secret_matches(secret, expected_secret):
            return _woo_error(
                401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
            )
        return None

    def handle(self, request: Request) -> Answer:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        if not request.path.startswith(_WOO_PREFIX):
            return self._no_route()
        parts = request.path[len(_WOO_PREFIX) :].strip("/").split("/")
        if parts == ["orders"] and request.method == "GET":
            return self._list(request)
        if parts == ["webhooks"] and request.method in ("GET", "POST"):
            return (
                self._list_webhooks(request)
                if request.method == "GET"
                else (self._create_webhook(request))
            )
        if parts[:1] == ["products"] and request.method == "GET":
            return self._products_route(request, parts[1:])
        if len(parts) >= 2 and parts[0] == "orders":
            if not parts[1].isdigit():
                return self._no_route()
            order = self._orders.get(int(parts[1]))
            if len(parts) == 2 and request.method == "GET":
                return Answer(200, copied(order)) if order else self._no_order()
            if len(parts) == 2 and request.method in ("PUT", "POST", "PATCH"):
                return self._update(request, order)
            if parts[2:] == ["notes"] and request.method == "GET":
                if order is None:
                    return _woo_error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
                notes = self._notes.get(int(parts[1]), [])
                return Answer(200, [copied(n) for n in reversed(notes)])
            if parts[2:] == ["notes"] and request.method == "POST":
                return self._add_note(request, order)
        return self._no_route()

    def _products_route(self, request: Request, rest: list[str]) -> Answer:
        """``GET products`` and ``GET products/<id>/variations``: by id, ``per_page`` (1-100,
        default 10) and ``page``, the totals in ``X-WP-Total`` / ``X-WP-TotalPages``."""
        if not rest:
            chosen = [self._products[key] for key in sorted(self._products)]
        elif len(rest) == 2 and rest[0].isdigit() and rest[1] == "variations":
            if int(rest[0]) not in self._products:
                return _woo_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            found = self._variations.get(int(rest[0]), {})
            chosen = [found[key] for key in sorted(found)]
        else:
            return self._no_route()
        paging = _woo_paging(request)
        if isinstance(paging, Answer):
            return paging
        per_page, page = paging
        size, number = int(per_page), int(page)
        pages = -(-len(chosen) // size)
        body = [copied(p) for p in chosen[(number - 1) * size : number * size]]
        return Answer(200, body, {"X-WP-Total": str(len(chosen)), "X-WP-TotalPages": str(pages)})

    def _list_webhooks(self, request: Request) -> Answer:
        """``GET webhooks``: newest first (the default ``order=desc``), ``per_page`` (1-100,
        default 10) and ``page``, ``status`` (all, active, paused, disabled)."""
        paging = _woo_paging(request)
        if isinstance(paging, Answer):
            return paging
        per_page, page = paging
        status = request.param("status") or "all"
        if status not in ("all", *_WEBHOOK_STATUSES):
            return _woo_invalid("status", "status is not one of all, active, paused, disabled.")
        chosen = [
            copied(self._webhooks[key])
            for key in sorted(self._webhooks, reverse=True)
            if status in ("all", self._webhooks[key]["status"])
        ]
        size, number = int(per_page), int(page)
        pages = -(-len(chosen) // size)
        body = chosen[(number - 1) * size : number * size]
        return Answer(200, body, {"X-WP-Total": str(len(chosen)), "X-WP-TotalPages": str(pages)})

    def _create_webhook(self, request: Request) -> Answer:
        """``POST webhooks``: ``topic`` and ``delivery_url`` required, ``secret`` (write-only:
        kept, never shown), ``name`` and ``status`` optional; 201 and the webhook."""
        document = request.json_body()
        if not isinstance(document, dict):
            return _woo_error(400, "rest_invalid_json", "Invalid JSON body passed.")
        missing = [name for name in ("topic", "delivery_url") if not document.get(name)]
        if missing:
            return _woo_error(
                400, "rest_missing_callback_param",
                f"Missing parameter(s): {', '.join(missing)}", params=missing,
            )  # fmt: skip
        topic, url = document["topic"], document["delivery_url"]
        if not isinstance(topic, str) or topic not in WOO_WEBHOOK_TOPICS:
            return _woo_error(
                400, "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )  # fmt: skip
        if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s]+", url):
            return _woo_invalid("delivery_url", "delivery_url is not a valid URL.")
        status = document.get("status", "active")
        if status not in _WEBHOOK_STATUSES:
            return _woo_invalid("status", "status is not one of active, paused, disabled.")
        secret = document.get("secret")
        if not isinstance(secret, str) or not secret:
            # WooCommerce's default when none is given: a hash of the user, not a secret.
            secret = "wc-default-secret-of-the-api-user"  # noqa: S105 - the fake's stand-in
        now = gmt(self._clock())
        webhook_id = self._next_id()
        resource, _, event = topic.partition(".")
        links = f"{request.base_url}/wp-json/wc/v3/webhooks"
        hook = {
            "id": webhook_id,
            "name": str(document.get("name") or f"Webhook created on {now}"),
            "status": status, "topic": topic, "resource": resource, "event": event,
            "hooks": list(WOO_WEBHOOK_TOPICS[topic]), "delivery_url": url,
            "date_created": now, "date_created_gmt": now,
            "date_modified": now, "date_modified_gmt": now,
            "_links": {"self": [{"href": f"{links}/{webhook_id}"}],
                       "collection": [{"href": links}]},
        }  # fmt: skip
        self._webhooks[webhook_id] = hook
        self._webhook_secrets[webhook_id] = secret
        return Answer(201, copied(hook))

    @staticmethod
    def _no_route() -> Answer:
        return _woo_error(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    @staticmethod
    def _no_order() -> Answer:
        return _woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")

    def _update(self, request: Request, order: dict[str, Any] | None) -> Answer:
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
        return Answer(200, copied(order))

    def _add_note(self, request: Request, order: dict[str, Any] | None) -> Answer:
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
            "date_created": gmt(now),
            "date_created_gmt": gmt(now),
            "note": note,
            "customer_note": customer_note,
            "added_by_user": bool(document.get("added_by_user", False)),
        }
        self._notes.setdefault(int(order["id"]), []).append(record)
        return Answer(201, copied(record))

    def _list(self, request: Request) -> Answer:
        paging = _woo_paging(request)
        if isinstance(paging, Answer):
            return paging
        per_page, page = paging
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
            moment = parse_iso(value.replace(" ", "T")) if _WOO_DATE.fullmatch(value) else None
            if moment is None:
                return _woo_invalid(name, "Invalid date.")
            bounds[name] = moment
        status = request.param("status") or "any"
        chosen = []
        for order in self._orders.values():
            if status != "any" and order.get("status") not in status.split(","):
                continue
            modified = parse_iso(str(order.get("date_modified_gmt" if gmt else "date_modified")))
            created = parse_iso(str(order.get("date_created_gmt" if gmt else "date_created")))
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
            return (parse_iso(str(order.get(date_field))) or datetime.min.replace(tzinfo=UTC),
                    int(order["id"]))  # fmt: skip

        chosen.sort(key=key, reverse=direction == "desc")
        size, number = int(per_page), int(page)
        pages = max(1, -(-len(chosen) // size)) if chosen else 0
        if chosen and number > pages:
            return _woo_error(
                400, "woocommerce_rest_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )  # fmt: skip
        body = [copied(o) for o in chosen[(number - 1) * size : number * size]]
        return Answer(200, body, {"X-WP-Total": str(len(chosen)), "X-WP-TotalPages": str(pages)})


def _woo_paging(request: Request) -> tuple[str, str] | Answer:
    """``per_page`` (1-100, default 10) and ``page`` (from 1), refused as WooCommerce does."""
    per_page, page = request.param("per_page") or "10", request.param("page") or "1"
    if not per_page.isdigit() or not 1 <= int(per_page) <= 100:
        return _woo_invalid(
            "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"
        )
    if not page.isdigit() or int(page) < 1:
        return _woo_invalid("page", "page must be greater than or equal to 1")
    return per_page, page
