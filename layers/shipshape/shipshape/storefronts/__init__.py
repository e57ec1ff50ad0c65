"""Storefront adapters, one per platform, behind the ``StorefrontAdapter`` port.

The ingest path looks its adapter up here by the platform in the webhook's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from shipshape.errors import UnsupportedPlatform
from shipshape.models import Platform
from shipshape.storefronts.base import StorefrontAdapter, WebhookDelivery
from shipshape.storefronts.bigcommerce import bigcommerce_adapter
from shipshape.storefronts.generic import generic_adapter
from shipshape.storefronts.shopify import shopify_adapter
from shipshape.storefronts.woocommerce import WooCommercePing, woocommerce_adapter

# Read-only: a caller swapping an adapter here would change it for every other caller.
ADAPTERS: Mapping[Platform, StorefrontAdapter] = MappingProxyType(
    {
        Platform.SHOPIFY: shopify_adapter,
        Platform.WOOCOMMERCE: woocommerce_adapter,
        Platform.BIGCOMMERCE: bigcommerce_adapter,
        Platform.GENERIC: generic_adapter,
    }
)


def adapter_for(platform: Platform) -> StorefrontAdapter:
    """The adapter for ``platform``; ``UnsupportedPlatform`` when Shipshape has none yet."""
    try:
        return ADAPTERS[platform]
    except KeyError:
        raise UnsupportedPlatform(f"no storefront adapter for platform {platform!s}") from None


__all__ = [
    "ADAPTERS",
    "StorefrontAdapter",
    "WebhookDelivery",
    "WooCommercePing",
    "adapter_for",
]
