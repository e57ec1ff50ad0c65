"""``StorefrontApi`` over the storefronts' own HTTP APIs: Shopify (Admin GraphQL for the
write-back, REST for reading orders and products), WooCommerce REST v3 and BigCommerce v2
(orders) and v3 (the catalog).

Each store's credential is read from the secret store under ``api_token_secret_name``. The
transport (``shipshape.storefronts.api``) owns timeouts, retries and the mapping of HTTP
outcomes onto ``StorefrontUnavailable`` / ``StorefrontRefused``; this module owns what each
platform is asked and how a write stays single.

A write-back always looks before it writes, and looks again after a write that went
unanswered (a timeout, a 5xx, a broken connection): the storefront may have made it, and the
look finds it instead of a second write making a duplicate.
"""

import base64
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ConfigDict, ValidationError

from shipshape.base import Model
from shipshape.config import StoreConfig
from shipshape.errors import StorefrontRefused, StorefrontUnavailable
from shipshape.models import Platform
from shipshape.observability import logger
from shipshape.ports import SecretStore, ShipmentNotice, StorefrontApi, WriteBackResult
from shipshape.storefronts.api import StorefrontHttp, StoreSession, scrub

SHOPIFY_API_VERSION = "2025-07"
SHOPIFY_ADMIN = f"/admin/api/{SHOPIFY_API_VERSION}"
SHOPIFY_GRAPHQL = f"{SHOPIFY_ADMIN}/graphql.json"
WOOCOMMERCE_API = "/wp-json/wc/v3"
BIGCOMMERCE_API = "/v2"
BIGCOMMERCE_CATALOG = "/v3/catalog/products"

SHOPIFY_PAGE = 250  # the REST maximum
WOOCOMMERCE_PAGE = 100  # the REST maximum
BIGCOMMERCE_PAGE = 250  # the v2 maximum
MAX_PAGES = 1000  # a safety stop: a platform handing back the same page forever
THROTTLE_ATTEMPTS = 5  # GraphQL THROTTLED answers waited out within one call
MAX_THROTTLE_WAIT = 10.0

# The window is asked of the platform one second wider on each side (their filters differ in
# inclusiveness and all keep whole seconds), then cut exactly here: since <= updated < until.
_SLACK = timedelta(seconds=1)
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_NUMERIC_ID = re.compile(r"[0-9]{1,20}")

# Shopify recognises these tracking companies by name (and links their tracking pages).
_SHOPIFY_COMPANIES = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL Express"}
# BigCommerce's tracking_carrier codes; any other carrier goes with "" (no tracking link).
_BIGCOMMERCE_CARRIERS = frozenset(
    {"auspost", "canada-post", "dhl", "fedex", "royal-mail", "ups", "usps", "dhl-express"}
)
# Statuses a full shipment moves to "completed"; a cancelled or refunded order keeps its own.
_WOO_COMPLETABLE = frozenset({"pending", "processing", "on-hold"})
_SHOPIFY_FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})
_SHOPIFY_LIVE_FULFILLMENT = frozenset({"SUCCESS", "OPEN", "PENDING"})

FULFILLMENT_STATE_QUERY = """
query ShipshapeFulfillmentState($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 20) { id status trackingInfo(first: 5) { number } }
    fulfillmentOrders(first: 5) {
      nodes {
        id
        status
        lineItems(first: 50) {
          nodes { id remainingQuantity lineItem { id } }
          pageInfo { hasNextPage }
        }
      }
      pageInfo { hasNextPage }
    }
  }
}
"""

FULFILLMENT_CREATE = """
mutation ShipshapeFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""


class HttpStorefrontApi(StorefrontApi):
    """The storefronts' APIs over HTTP. ``http`` is the transport (timeouts, retries, the
    API URL override from ``SHIPSHAPE_STOREFRONT_API_URL``); ``write_attempts`` is how many
    times a write-back writes when the answers go missing, looking again before each;
    ``page_size`` caps the orders asked for per page (default: each platform's maximum)."""

    def __init__(
        self,
        secrets: SecretStore,
        *,
        http: StorefrontHttp | None = None,
        write_attempts: int = 3,
        page_size: int | None = None,
    ) -> None:
        self._secrets = secrets
        self._http = http or StorefrontHttp()
        self._write_attempts = max(1, write_attempts)
        self._page_size = page_size

    def _page(self, platform_maximum: int) -> int:
        return max(1, min(self._page_size or platform_maximum, platform_maximum))

    # --- the port -----------------------------------------------------------------------

    def confirm_shipment(self, store: StoreConfig, notice: ShipmentNotice) -> WriteBackResult:
        platform = Platform(store.platform)
        if platform is Platform.GENERIC:
            raise _unsupported(store)
        session = self._session(store)
        order_id = _order_id(session, notice.storefront_order_id)
        if platform is Platform.SHOPIFY:
            return self._shopify_confirm(session, order_id, notice)
        if platform is Platform.WOOCOMMERCE:
            return self._woocommerce_confirm(session, order_id, notice)
        return self._bigcommerce_confirm(session, order_id, notice)

    def orders_updated_since(
        self, store: StoreConfig, since: datetime, until: datetime
    ) -> list[bytes]:
        platform = Platform(store.platform)
        if platform is Platform.GENERIC:
            raise _unsupported(store)
        since, until = _aware(since), _aware(until)
        session = self._session(store)
        if platform is Platform.SHOPIFY:
            found = self._shopify_orders(session, since, until)
        elif platform is Platform.WOOCOMMERCE:
            found = self._woocommerce_orders(session, since, until)
        else:
            found = self._bigcommerce_orders(session, since, until)
        return _window(found, since, until)

    def fetch_order(self, store: StoreConfig, storefront_order_id: str) -> bytes:
        platform = Platform(store.platform)
        if platform is Platform.GENERIC:
            raise _unsupported(store)
        session = self._session(store)
        order_id = _order_id(session, storefront_order_id)
        if platform is Platform.SHOPIFY:
            document = session.get(f"{SHOPIFY_ADMIN}/orders/{order_id}.json").json()
            return _dump(_field(session, document, "order", dict))
        if platform is Platform.WOOCOMMERCE:
            return _dump(session.get(f"{WOOCOMMERCE_API}/orders/{order_id}").json())
        order = session.get(f"{BIGCOMMERCE_API}/orders/{order_id}").json()
        return _dump(self._bigcommerce_bundle(session, order))

    def products(self, store: StoreConfig) -> list[bytes]:
        platform = Platform(store.platform)
        if platform is Platform.WOOCOMMERCE:
            return self._woocommerce_products(self._session(store))
        if platform is Platform.BIGCOMMERCE:
            return self._bigcommerce_products(self._session(store))
        if platform is not Platform.SHOPIFY:
            raise _unsupported(store)
        session = self._session(store)
        response = session.get(
            f"{SHOPIFY_ADMIN}/products.json", {"limit": self._page(SHOPIFY_PAGE)}
        )
        found: list[bytes] = []
        for _ in range(MAX_PAGES):
            found += [_dump(p) for p in _field(session, response.json(), "products", list)]
            # REST pagination is cursor-based: the next page is the Link header's rel="next".
            link = _next_link(response.header("Link"))
            if link is None:
                return found
            response = session.get_url(link)
        raise _too_many_pages(session)

    # --- credentials ----------------------------------------------------------------------

    def _session(self, store: StoreConfig) -> StoreSession:
        platform = Platform(store.platform).value
        name = store.api_token_secret_name
        if not name:
            raise StorefrontRefused(
                platform,
                0,
                "not_configured",
                f"store {store.store} has no api_token_secret_name: Shipshape has no credential "
                "for its API (add the secret's name to the client's config file)",
            )
        try:
            credential = self._secrets.get(name).decode().strip()
        except KeyError:
            raise StorefrontRefused(
                platform,
                0,
                "not_configured",
                f"store {store.store}: the secret {name} is not available",
            ) from None
        except UnicodeDecodeError:
            raise StorefrontRefused(
                platform, 0, "not_configured", f"store {store.store}: the secret {name} is not text"
            ) from None
        if not credential:
            raise StorefrontRefused(
                platform, 0, "not_configured", f"store {store.store}: the secret {name} is empty"
            )
        if store.platform is Platform.SHOPIFY:
            return self._http.session(store, {"X-Shopify-Access-Token": credential}, [credential])
        if store.platform is Platform.WOOCOMMERCE:
            key, colon, secret = credential.partition(":")
            if not (key and colon and secret):
                raise StorefrontRefused(
                    platform,
                    0,
                    "not_configured",
                    f"store {store.store}: the secret {name} must be "
                    "'consumer_key:consumer_secret'",
                )
            basic = base64.b64encode(credential.encode()).decode()
            return self._http.session(
                store, {"Authorization": f"Basic {basic}"}, [credential, key, secret, basic]
            )
        return self._http.session(store, {"X-Auth-Token": credential}, [credential])

    # --- looking before writing -------------------------------------------------------------

    def _look_then_write[P](
        self,
        session: StoreSession,
        notice: ShipmentNotice,
        look: Callable[[], tuple[str | None, P]],
        write: Callable[[P], str],
    ) -> WriteBackResult:
        """``look`` returns the reference of what the storefront already holds for this
        shipment (or None) and what ``write`` needs to make it. A write that goes unanswered
        is looked for again before it is tried again; one found then was made by this call."""
        unanswered: StorefrontUnavailable | None = None
        for attempt in range(self._write_attempts):
            if attempt:
                self._http.wait(self._http.backoff_factor * 2 ** (attempt - 1))
            found, plan = look()
            if found is not None:
                return WriteBackResult(reference=found, created=unanswered is not None)
            try:
                return WriteBackResult(reference=write(plan), created=True)
            except StorefrontUnavailable as exc:
                unanswered = exc
                logger.warning(
                    "a storefront write went unanswered; looking again before writing again",
                    extra={
                        "order_id": notice.order_id,
                        "platform": session.platform,
                        "store": session.store.store,
                        "attempt": attempt + 1,
                        "exception_type": type(exc).__name__,
                    },
                )
        assert unanswered is not None
        raise unanswered

    # --- Shopify --------------------------------------------------------------------------

    def _shopify_confirm(
        self, session: StoreSession, order_id: str, notice: ShipmentNotice
    ) -> WriteBackResult:
        gid = f"gid://shopify/Order/{order_id}"

        def look() -> tuple[str | None, _ShopifyOrderState]:
            data = self._graphql(session, FULFILLMENT_STATE_QUERY, {"id": gid}, write=False)
            if data.get("order") is None:
                raise StorefrontRefused(
                    session.platform,
                    404,
                    "not_found",
                    f"store {session.store.store} has no order {order_id}",
                )
            state = _parse(session, _ShopifyOrderState, data["order"])
            return state.fulfilled_with(notice.tracking_number), state

        def write(state: _ShopifyOrderState) -> str:
            fulfillment = {
                "lineItemsByFulfillmentOrder": _shopify_lines(session, state, notice),
                "trackingInfo": {
                    "company": _SHOPIFY_COMPANIES.get(notice.carrier.lower(), notice.carrier),
                    "number": notice.tracking_number,
                    **({"url": notice.tracking_url} if notice.tracking_url else {}),
                },
                # Shipshape's own notification tells the customer; Shopify's would be a second.
                "notifyCustomer": False,
            }
            data = self._graphql(
                session, FULFILLMENT_CREATE, {"fulfillment": fulfillment}, write=True
            )
            payload = _parse(session, _FulfillmentCreatePayload, data.get("fulfillmentCreate"))
            if payload.userErrors:
                first = payload.userErrors[0]
                raise StorefrontRefused(
                    session.platform,
                    422,
                    ".".join(first.field or []) or "user_error",
                    f"store {session.store.store}: fulfillmentCreate for order {order_id} "
                    f"refused: {scrub(first.message, session.secrets)}",
                )
            if payload.fulfillment is None:
                raise _unexpected(session, "fulfillmentCreate returned no fulfillment")
            return payload.fulfillment.id

        return self._look_then_write(session, notice, look, write)

    def _graphql(
        self, session: StoreSession, query: str, variables: dict[str, Any], *, write: bool
    ) -> dict[str, Any]:
        """One GraphQL operation; THROTTLED answers (the query was not run) are waited out as
        the answer's throttle status says, within bounds."""
        for _ in range(THROTTLE_ATTEMPTS):
            answer = session.post(
                SHOPIFY_GRAPHQL, {"query": query, "variables": variables}, repeatable=not write
            ).json()
            if not isinstance(answer, dict):
                raise _unexpected(session, "the GraphQL answer is not an object")
            errors = answer.get("errors")
            if errors:
                codes = [_graphql_code(error) for error in _as_list(errors)]
                if "THROTTLED" in codes:
                    self._http.wait(_throttle_wait(answer))
                    continue
                raise _graphql_refusal(session, errors, codes)
            data = answer.get("data")
            if not isinstance(data, dict):
                raise _unexpected(session, "the GraphQL answer has no data")
            return data
        raise StorefrontUnavailable(
            f"shopify store {session.store.store}: POST {SHOPIFY_GRAPHQL} still throttled "
            f"after {THROTTLE_ATTEMPTS} attempts"
        )

    def _shopify_orders(
        self, session: StoreSession, since: datetime, until: datetime
    ) -> list[tuple[datetime | None, str, Any]]:
        response = session.get(
            f"{SHOPIFY_ADMIN}/orders.json",
            {
                "status": "any",
                "updated_at_min": _iso(since - _SLACK),
                "updated_at_max": _iso(until + _SLACK),
                "limit": self._page(SHOPIFY_PAGE),
                "order": "updated_at asc",
            },
        )
        found = []
        for _ in range(MAX_PAGES):
            for order in _field(session, response.json(), "orders", list):
                found.append((_iso_time(order.get("updated_at")), str(order.get("id")), order))
            link = _next_link(response.header("Link"))
            if link is None:
                return found
            response = session.get_url(link)
        raise _too_many_pages(session)

    # --- WooCommerce ------------------------------------------------------------------------

    def _woocommerce_products(self, session: StoreSession) -> list[bytes]:
        """Every product, and every variation of each variable product, by id."""
        found: list[bytes] = []
        for product in self._woocommerce_pages(session, f"{WOOCOMMERCE_API}/products"):
            if product.get("type") == "variable" and isinstance(product.get("id"), int):
                path = f"{WOOCOMMERCE_API}/products/{product['id']}/variations"
                for variation in self._woocommerce_pages(session, path):
                    # A variation's resource may not name the product (older versions):
                    # its attributes are appended to the product's name.
                    if not variation.get("name"):
                        variation["name"] = product.get("name", "")
                    found.append(_dump(variation))
            else:
                found.append(_dump(product))
        return found

    def _woocommerce_pages(self, session: StoreSession, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            if page > MAX_PAGES:
                raise _too_many_pages(session)
            response = session.get(
                path, {"per_page": self._page(WOOCOMMERCE_PAGE), "page": page, "orderby": "id",
                       "order": "asc"},
            )  # fmt: skip
            answer = response.json()
            if not isinstance(answer, list):
                raise _unexpected(session, f"{path} did not answer a list")
            items += [item for item in answer if isinstance(item, dict)]
            try:
                pages = int(response.header("X-WP-TotalPages") or page)
            except ValueError:
                raise _unexpected(session, "X-WP-TotalPages is not a number") from None
            page += 1
        return items

    def _woocommerce_confirm(
        self, session: StoreSession, order_id: str, notice: ShipmentNotice
    ) -> WriteBackResult:
        order_path = f"{WOOCOMMERCE_API}/orders/{order_id}"
        order = session.get(order_path).json()
        status = order.get("status") if isinstance(order, dict) else None

        def look() -> tuple[str | None, None]:
            notes = session.get(f"{order_path}/notes").json()
            for note in notes if isinstance(notes, list) else []:
                if isinstance(note, dict) and notice.tracking_number in str(note.get("note", "")):
                    return str(note.get("id")), None
            return None, None

        def write(_: None) -> str:
            note = session.post(
                f"{order_path}/notes",
                {"note": _woocommerce_note(notice), "customer_note": True},
                repeatable=False,
            ).json()
            return str(_field(session, note, "id", int))

        result = self._look_then_write(session, notice, look, write)
        if not notice.partial and status in _WOO_COMPLETABLE:
            # Setting the same status twice changes nothing: safe to repeat within the call.
            session.put(order_path, {"status": "completed"}, repeatable=True)
        return result

    def _woocommerce_orders(
        self, session: StoreSession, since: datetime, until: datetime
    ) -> list[tuple[datetime | None, str, Any]]:
        found = []
        page, pages = 1, 1
        while page <= pages:
            if page > MAX_PAGES:
                raise _too_many_pages(session)
            response = session.get(
                f"{WOOCOMMERCE_API}/orders",
                {
                    "modified_after": _gmt(since - _SLACK),
                    "modified_before": _gmt(until + _SLACK),
                    "dates_are_gmt": "true",
                    "orderby": "modified",
                    "order": "asc",
                    "per_page": self._page(WOOCOMMERCE_PAGE),
                    "page": page,
                },
            )
            orders = response.json()
            if not isinstance(orders, list):
                raise _unexpected(session, "the order list is not a list")
            for order in orders:
                found.append(
                    (_gmt_time(order.get("date_modified_gmt")), str(order.get("id")), order)
                )
            total = response.header("X-WP-TotalPages") or "1"
            pages = int(total) if total.isdigit() else 1
            if not orders:
                break
            page += 1
        return found

    # --- BigCommerce ------------------------------------------------------------------------

    def _bigcommerce_confirm(
        self, session: StoreSession, order_id: str, notice: ShipmentNotice
    ) -> WriteBackResult:
        order_path = f"{BIGCOMMERCE_API}/orders/{order_id}"

        def look() -> tuple[str | None, dict[int, list[dict[str, int]]]]:
            shipments = self._bigcommerce_list(session, f"{order_path}/shipments")
            mine = [s for s in shipments if s.get("tracking_number") == notice.tracking_number]
            done = {int(s["order_address_id"]) for s in mine if s.get("order_address_id")}
            groups = self._bigcommerce_items(session, order_path, notice, done)
            missing = {address: items for address, items in groups.items() if address not in done}
            if mine and not missing:
                return str(mine[0].get("id")), {}
            return None, missing

        def write(missing: dict[int, list[dict[str, int]]]) -> str:
            made = []
            carrier = notice.carrier.lower()
            for address_id, items in missing.items():
                shipment = session.post(
                    f"{order_path}/shipments",
                    {
                        "order_address_id": address_id,
                        "tracking_number": notice.tracking_number,
                        "tracking_carrier": carrier if carrier in _BIGCOMMERCE_CARRIERS else "",
                        "comments": f"{notice.carrier} {notice.service}",
                        "items": items,
                    },
                    repeatable=False,
                ).json()
                made.append(str(_field(session, shipment, "id", int)))
            return made[0]

        return self._look_then_write(session, notice, look, write)

    def _bigcommerce_items(
        self, session: StoreSession, order_path: str, notice: ShipmentNotice, done: set[int]
    ) -> dict[int, list[dict[str, int]]]:
        """The notice's lines as shipment items, grouped by the address each product goes to
        (a shipment names one address). Lines to an address ``done`` (shipped with this
        tracking number already) are not checked against what remains: they are in it."""
        products = {
            str(p.get("id")): p for p in self._bigcommerce_list(session, f"{order_path}/products")
        }
        default_address: int | None = None
        groups: dict[int, list[dict[str, int]]] = {}
        for line in notice.lines:
            product = products.get(line.line_id)
            if product is None:
                raise StorefrontRefused(
                    session.platform,
                    422,
                    "line_not_found",
                    f"store {session.store.store}: order {notice.storefront_order_id} has no "
                    f"product line {line.line_id}",
                )
            address = product.get("order_address_id")
            if not address:
                if default_address is None:
                    addresses = self._bigcommerce_list(session, f"{order_path}/shipping_addresses")
                    if not addresses:
                        raise _unexpected(session, "the order has no shipping address")
                    default_address = int(addresses[0]["id"])
                address = default_address
            left = int(product.get("quantity") or 0) - int(product.get("quantity_shipped") or 0)
            if int(address) not in done and line.quantity > left:
                raise _not_fulfillable(session, notice, line.line_id, left, line.quantity)
            groups.setdefault(int(address), []).append(
                {"order_product_id": int(line.line_id), "quantity": line.quantity}
            )
        return groups

    def _bigcommerce_list(self, session: StoreSession, path: str) -> list[dict[str, Any]]:
        """Every entry of a v2 list (204 No Content: none), page by page."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            response = session.get(path, {"limit": BIGCOMMERCE_PAGE, "page": page})
            if response.status == 204 or not response.body.strip():
                return found
            entries = response.json()
            if not isinstance(entries, list):
                raise _unexpected(session, f"{path} is not a list")
            found.extend(e for e in entries if isinstance(e, dict))
            if len(entries) < BIGCOMMERCE_PAGE:
                return found
        raise _too_many_pages(session)

    def _bigcommerce_bundle(self, session: StoreSession, order: Any) -> dict[str, Any]:
        """One order as the BigCommerce adapter reads it: the order, its products and its
        shipping addresses (three reads of v2), in one document."""
        order_id = _order_id(session, str(_field(session, order, "id", int)))
        order_path = f"{BIGCOMMERCE_API}/orders/{order_id}"
        return {
            "order": order,
            "products": self._bigcommerce_list(session, f"{order_path}/products"),
            "shipping_addresses": self._bigcommerce_list(
                session, f"{order_path}/shipping_addresses"
            ),
        }

    def _bigcommerce_products(self, session: StoreSession) -> list[bytes]:
        """Every product of the v3 Catalog API with its variants, page by page (the answer's
        ``meta.pagination.total_pages`` says how many)."""
        found: list[bytes] = []
        page, pages = 1, 1
        while page <= pages:
            if page > MAX_PAGES:
                raise _too_many_pages(session)
            answer = session.get(
                BIGCOMMERCE_CATALOG,
                {"include": "variants", "limit": self._page(BIGCOMMERCE_PAGE), "page": page},
            ).json()
            found += [_dump(p) for p in _field(session, answer, "data", list)]
            pagination = _field(session, _field(session, answer, "meta", dict), "pagination", dict)
            pages = _field(session, pagination, "total_pages", int)
            page += 1
        return found

    def _bigcommerce_orders(
        self, session: StoreSession, since: datetime, until: datetime
    ) -> list[tuple[datetime | None, str, Any]]:
        found = []
        limit = self._page(BIGCOMMERCE_PAGE)
        for page in range(1, MAX_PAGES + 1):
            response = session.get(
                f"{BIGCOMMERCE_API}/orders",
                {
                    "min_date_modified": _iso(since - _SLACK),
                    "max_date_modified": _iso(until + _SLACK),
                    "sort": "date_modified:asc",
                    "limit": limit,
                    "page": page,
                },
            )
            orders = [] if response.status == 204 or not response.body.strip() else response.json()
            if not isinstance(orders, list):
                raise _unexpected(session, "the order list is not a list")
            for order in orders:
                moment = _rfc2822_time(order.get("date_modified"))
                if moment is not None and not since <= moment < until:
                    continue  # outside the window: not worth the two reads of its bundle
                bundle = self._bigcommerce_bundle(session, order)
                found.append((moment, str(order.get("id")), bundle))
            if len(orders) < limit:
                return found
        raise _too_many_pages(session)


# --- the answers' shapes (only what Shipshape reads) ------------------------------------------


class _Answer(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Ref(_Answer):
    id: str


class _PageInfo(_Answer):
    hasNextPage: bool = False


class _FulfillmentOrderLine(_Answer):
    id: str
    remainingQuantity: int
    lineItem: _Ref


class _FulfillmentOrderLines(_Answer):
    nodes: list[_FulfillmentOrderLine]
    pageInfo: _PageInfo = _PageInfo()


class _FulfillmentOrder(_Answer):
    id: str
    status: str
    lineItems: _FulfillmentOrderLines


class _FulfillmentOrders(_Answer):
    nodes: list[_FulfillmentOrder]
    pageInfo: _PageInfo = _PageInfo()


class _Tracking(_Answer):
    number: str | None = None


class _Fulfillment(_Answer):
    id: str
    status: str
    trackingInfo: list[_Tracking] = []


class _ShopifyOrderState(_Answer):
    id: str
    fulfillments: list[_Fulfillment]
    fulfillmentOrders: _FulfillmentOrders

    def fulfilled_with(self, tracking_number: str) -> str | None:
        for fulfillment in self.fulfillments:
            if fulfillment.status in _SHOPIFY_LIVE_FULFILLMENT and any(
                t.number == tracking_number for t in fulfillment.trackingInfo
            ):
                return fulfillment.id
        return None

    @property
    def truncated(self) -> bool:
        return self.fulfillmentOrders.pageInfo.hasNextPage or any(
            fo.lineItems.pageInfo.hasNextPage for fo in self.fulfillmentOrders.nodes
        )


class _UserError(_Answer):
    field: list[str] | None = None
    message: str


class _FulfillmentCreatePayload(_Answer):
    fulfillment: _Ref | None = None
    userErrors: list[_UserError] = []


def _shopify_lines(
    session: StoreSession, state: _ShopifyOrderState, notice: ShipmentNotice
) -> list[dict[str, Any]]:
    """The notice's lines (Shopify line item ids) as fulfillment order line items: only the
    lines that shipped, from the fulfillment orders still open, never more than remains."""
    wanted: dict[str, int] = {}
    for line in notice.lines:
        wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
    by_order: dict[str, list[dict[str, Any]]] = {}
    for line_id, quantity in wanted.items():
        gid = f"gid://shopify/LineItem/{line_id}"
        needed = quantity
        available = 0
        for fulfillment_order in state.fulfillmentOrders.nodes:
            if fulfillment_order.status not in _SHOPIFY_FULFILLABLE:
                continue
            for item in fulfillment_order.lineItems.nodes:
                if item.lineItem.id != gid or item.remainingQuantity <= 0:
                    continue
                available += item.remainingQuantity
                take = min(needed, item.remainingQuantity)
                if take:
                    by_order.setdefault(fulfillment_order.id, []).append(
                        {"id": item.id, "quantity": take}
                    )
                    needed -= take
        if needed:
            if available == 0 and state.truncated:
                raise StorefrontRefused(
                    session.platform,
                    422,
                    "too_many_lines",
                    f"store {session.store.store}: order {notice.storefront_order_id} has more "
                    "fulfillment order lines than Shipshape reads in one look",
                )
            raise _not_fulfillable(session, notice, line_id, available, quantity)
    return [
        {"fulfillmentOrderId": order_id, "fulfillmentOrderLineItems": items}
        for order_id, items in by_order.items()
    ]


# --- helpers ---------------------------------------------------------------------------------


def _woocommerce_note(notice: ShipmentNotice) -> str:
    how = f"with {notice.carrier} {notice.service}, tracking {notice.tracking_number}"
    if notice.tracking_url:
        how += f" {notice.tracking_url}"
    if notice.partial:
        items = ", ".join(f"{line.quantity} x {line.sku}" for line in notice.lines)
        return f"Partially shipped ({items}) {how}"
    return f"Shipped {how}"


def _order_id(session: StoreSession, value: str) -> str:
    """Storefront order ids are numbers on every platform with an API: anything else would
    change the path asked for."""
    if not _NUMERIC_ID.fullmatch(value):
        raise StorefrontRefused(
            session.platform,
            0,
            "invalid_order_id",
            f"store {session.store.store}: {value[:40]!r} is not a {session.platform} order id",
        )
    return value


def _unsupported(store: StoreConfig) -> StorefrontRefused:
    return StorefrontRefused(
        Platform(store.platform).value,
        0,
        "unsupported",
        f"store {store.store}: {store.platform} storefronts have no API Shipshape calls "
        "(they post their orders to Shipshape)",
    )


def _unexpected(session: StoreSession, what: str) -> StorefrontRefused:
    return StorefrontRefused(
        session.platform, 200, "unexpected_answer", f"store {session.store.store}: {what}"
    )


def _too_many_pages(session: StoreSession) -> StorefrontUnavailable:
    return StorefrontUnavailable(
        f"{session.platform} store {session.store.store}: more than {MAX_PAGES} pages in one "
        "read; read a shorter window"
    )


def _not_fulfillable(
    session: StoreSession, notice: ShipmentNotice, line_id: str, left: int, shipped: int
) -> StorefrontRefused:
    return StorefrontRefused(
        session.platform,
        422,
        "not_fulfillable",
        f"store {session.store.store}: order {notice.storefront_order_id} line {line_id} has "
        f"{left} unit(s) left to fulfil; the shipment has {shipped}",
    )


def _parse[M: _Answer](session: StoreSession, model: type[M], value: Any) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(answer)"
        raise _unexpected(session, f"the answer's {where}: {first['msg']}") from None


def _field[T](session: StoreSession, document: Any, name: str, kind: type[T]) -> T:
    value = document.get(name) if isinstance(document, dict) else None
    if not isinstance(value, kind):
        raise _unexpected(session, f"the answer has no {name}")
    return value


def _as_list(errors: Any) -> list[Any]:
    return errors if isinstance(errors, list) else [errors]


def _graphql_code(error: Any) -> str:
    if isinstance(error, dict):
        extensions = error.get("extensions")
        if isinstance(extensions, dict) and isinstance(extensions.get("code"), str):
            return str(extensions["code"])
    return "graphql_error"


def _graphql_refusal(
    session: StoreSession, errors: Any, codes: list[str]
) -> StorefrontRefused | StorefrontUnavailable:
    first = _as_list(errors)[0]
    message = first.get("message") if isinstance(first, dict) else first
    text = scrub(" ".join(str(message).split()), session.secrets)
    where = f"shopify store {session.store.store}: POST {SHOPIFY_GRAPHQL}"
    if codes[0] in ("INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"):
        return StorefrontUnavailable(f"{where} failed ({codes[0]})")
    status = 403 if codes[0] == "ACCESS_DENIED" else 400
    return StorefrontRefused(session.platform, status, codes[0], f"{where} refused: {text}")


def _throttle_wait(answer: dict[str, Any]) -> float:
    """Seconds until the query's cost is back in the bucket, from the answer's cost block."""
    try:
        cost = answer["extensions"]["cost"]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        wait = missing / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0
    return min(max(wait, 0.1), MAX_THROTTLE_WAIT)


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    match = _LINK_NEXT.search(header)
    return match.group(1) if match else None


def _window(
    found: Iterable[tuple[datetime | None, str, Any]], since: datetime, until: datetime
) -> list[bytes]:
    """The resources changed in ``[since, until)``, one per order (its latest read), oldest
    change first. A resource without a readable timestamp is kept (last): its adapter names
    what is wrong with it."""
    latest: dict[str, tuple[datetime | None, Any]] = {}
    for moment, order_id, resource in found:
        if moment is not None and not since <= moment < until:
            continue
        kept = latest.get(order_id)
        if kept is None or (moment is not None and (kept[0] is None or moment >= kept[0])):
            latest[order_id] = (moment, resource)
    end = datetime.max.replace(tzinfo=UTC)
    ordered = sorted(latest.items(), key=lambda item: (item[1][0] or end, item[0]))
    return [_dump(resource) for _, (_, resource) in ordered]


def _dump(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _iso_time(value: Any) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def _gmt_time(value: Any) -> datetime | None:
    return _iso_time(value)  # "2026-11-20T15:15:32": naive, and UTC by definition


def _rfc2822_time(value: Any) -> datetime | None:
    try:
        return _aware(parsedate_to_datetime(str(value)))
    except (ValueError, TypeError, IndexError):
        return None
