"""``shipshape_local.runtime`` and ``shipshape_local.fakestore`` stay the fronts they were, now
that each job lives in its own module: every name importable from them before still is, and is
the very object of the module that does the job."""

from __future__ import annotations

import importlib

import pytest

FRONTS = {
    "shipshape_local.runtime": {
        "ACCOUNT": "shipshape_local.stack",
        "REGION": "shipshape_local.stack",
        "API_BODY_LIMIT": "shipshape_local.gateway",
        "HttpResponse": "shipshape_local.gateway",
        "DEV_SECRETS": "shipshape_local.lifecycle",
        "SEED": "shipshape_local.lifecycle",
        "EmbeddedRuntime": "shipshape_local.lifecycle",
        "ManualClock": "shipshape_local.lifecycle",
        "RecordingWarehouseChannel": "shipshape_local.lifecycle",
        "Writes": "shipshape_local.lifecycle",
        "Calls": "shipshape_local.lifecycle",
    },
    "shipshape_local.fakestore": {
        "PLATFORMS": "shipshape_local.storefront_fakes.common",
        "Clock": "shipshape_local.storefront_fakes.common",
        "Json": "shipshape_local.storefront_fakes.common",
        "Fault": "shipshape_local.storefront_fakes.faults",
        "FaultKind": "shipshape_local.storefront_fakes.faults",
        "FakeShopify": "shipshape_local.storefront_fakes.shopify",
        "SHOPIFY_SCHEMA": "shipshape_local.storefront_fakes.shopify",
        "SHOPIFY_UNAUTHORIZED": "shipshape_local.storefront_fakes.shopify",
        "FakeWooCommerce": "shipshape_local.storefront_fakes.woocommerce",
        "WOO_STATUSES": "shipshape_local.storefront_fakes.woocommerce",
        "FakeBigCommerce": "shipshape_local.storefront_fakes.bigcommerce",
        "BIGCOMMERCE_CARRIERS": "shipshape_local.storefront_fakes.bigcommerce",
        "Bundle": "shipshape_local.storefront_fakes.bigcommerce",
        "bigcommerce_order": "shipshape_local.storefront_fakes.bigcommerce",
        "FakeStorefronts": "shipshape_local.storefront_fakes.server",
        "RecordedRequest": "shipshape_local.storefront_fakes.server",
        "DEV_SECRETS": "shipshape_local.storefront_fakes.credentials",
        "CLIENTS_DIR": "shipshape_local.storefront_fakes.credentials",
        "credentials_for": "shipshape_local.storefront_fakes.credentials",
        "dev_credentials": "shipshape_local.storefront_fakes.credentials",
    },
}


@pytest.mark.parametrize("front", list(FRONTS))
def test_a_front_re_exports_each_name_from_the_module_that_does_the_job(front: str) -> None:
    # Given a front and where each of its names now lives
    module = importlib.import_module(front)

    # When each name is looked up on both
    # Then it is the same object, and the front exports exactly those names
    for name, home in FRONTS[front].items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name), name
    assert sorted(module.__all__) == sorted(FRONTS[front])


def test_the_paths_the_fronts_name_are_the_files_they_named_before() -> None:
    # Given the development secrets, the seed and the clients' configs, named by both fronts
    from shipshape_local import fakestore, runtime
    from shipshape_local.template import REPO_ROOT

    package = REPO_ROOT / "local" / "shipshape_local"
    secrets, seed, clients = runtime.DEV_SECRETS, runtime.SEED, fakestore.CLIENTS_DIR

    # Then they are the files beside the package's modules, and the repository's clients
    assert secrets.resolve() == fakestore.DEV_SECRETS.resolve() == package / "dev-secrets.toml"
    assert seed.resolve() == package / "seed.toml"
    assert clients.resolve() == REPO_ROOT / "config" / "clients"
    assert secrets.is_file() and seed.is_file()
    assert sorted(clients.glob("*.toml"))
