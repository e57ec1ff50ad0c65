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

This module is the fakes' front: each job lives in its own module of
``shipshape_local.storefront_fakes`` (one per platform, the fault rules, the server, the
credentials), and what was importable from here still is.
"""

from __future__ import annotations

from shipshape_local.storefront_fakes.bigcommerce import (
    BIGCOMMERCE_CARRIERS,
    Bundle,
    FakeBigCommerce,
    bigcommerce_order,
)
from shipshape_local.storefront_fakes.common import PLATFORMS, Clock, Json
from shipshape_local.storefront_fakes.credentials import (
    CLIENTS_DIR,
    DEV_SECRETS,
    credentials_for,
    dev_credentials,
)
from shipshape_local.storefront_fakes.faults import Fault, FaultKind
from shipshape_local.storefront_fakes.server import FakeStorefronts, RecordedRequest
from shipshape_local.storefront_fakes.shopify import (
    SHOPIFY_SCHEMA,
    SHOPIFY_UNAUTHORIZED,
    FakeShopify,
)
from shipshape_local.storefront_fakes.woocommerce import WOO_STATUSES, FakeWooCommerce

__all__ = [
    "BIGCOMMERCE_CARRIERS",
    "CLIENTS_DIR",
    "DEV_SECRETS",
    "PLATFORMS",
    "SHOPIFY_SCHEMA",
    "SHOPIFY_UNAUTHORIZED",
    "WOO_STATUSES",
    "Bundle",
    "Clock",
    "FakeBigCommerce",
    "FakeShopify",
    "FakeStorefronts",
    "FakeWooCommerce",
    "Fault",
    "FaultKind",
    "Json",
    "RecordedRequest",
    "bigcommerce_order",
    "credentials_for",
    "dev_credentials",
]
