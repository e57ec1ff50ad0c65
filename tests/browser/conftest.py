"""Fixtures for the dashboard's browser tests: the embedded stack served over HTTP on
127.0.0.1 with seeded orders, and Debian's chromium driven by Playwright.

The stack is seeded once per module (it takes a few seconds); each test gets a fresh browser
context, signs in like an operator, and leaves a screenshot in ``test-artifacts/browser``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM_MISSING,
    CLIENT,
    LEAD_TOKEN,
    NO_ZIP,
    SAM,
    START,
    Problems,
    SeededStack,
    ci,
    open_exception,
    past,
    place,
)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        if ci():
            pytest.fail(f"{CHROMIUM_MISSING} CI must run these tests.", pytrace=False)
        pytest.skip(CHROMIUM_MISSING)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            # Chromium's sandbox refuses to run as root (CI runs as root); elsewhere keep it.
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def stack() -> Iterator[SeededStack]:
    """Five Acme orders on Monday: three ship (one at once, two after about five hours), one
    without a ZIP code misses its deadline twice (escalated once by the sweeper), and one
    without a ZIP code opens an exception in the afternoon."""
    with EmbeddedRuntime(clock=ManualClock(START)) as runtime:
        door = FrontDoorServer(runtime).start()
        try:
            acme = ShopifyStore(
                CLIENT, "acme-outdoors.myshopify.com",
                runtime.secret("shipshape/acme-outdoors/shopify-webhook"),
            )  # fmt: skip

            def send(
                method: str, path: str, headers: dict[str, str], body: bytes | None
            ) -> tuple[int, dict[str, Any]]:
                answer = runtime.http(method, path, headers=headers, body=body)
                return answer.status, answer.json()

            warehouse = WarehouseSimulator(
                send, {CLIENT: runtime.secret(f"shipshape/{CLIENT}/warehouse-token")}, LEAD_TOKEN
            )
            first, second, third = (place(runtime, acme, n) for n in (1, 2, 3))
            late_order = place(runtime, acme, 4, address=NO_ZIP)
            assert warehouse.run([first], timeout=20) == {first: "SHIPPED"}

            late = open_exception(runtime, late_order)
            past(runtime, late["due_at"])
            swept = runtime.run_function("SweeperFunction", {"source": "aws.scheduler"})
            assert [e["exception_id"] for e in swept["escalated"]] == [late["exception_id"]]
            late = open_exception(runtime, late_order)
            past(runtime, late["due_at"])  # the escalated owner misses it as well

            shipped = warehouse.run([second, third], timeout=20)
            assert shipped == {second: "SHIPPED", third: "SHIPPED"}, shipped
            fresh = open_exception(runtime, place(runtime, acme, 5, address=NO_ZIP, person=SAM))
            late = open_exception(runtime, late_order)
            assert late["overdue"] and not fresh["overdue"], (late, fresh)

            yield SeededStack(runtime, door.url, (first, second, third), late, fresh)
        finally:
            door.stop()
        assert runtime.integration_errors == [], "a handler crashed:\n" + "\n".join(
            runtime.integration_errors
        )


@pytest.fixture
def page(browser: Browser, stack: SeededStack, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1440, "height": 900},
        locale="en-US",
        timezone_id="America/Los_Angeles",  # the operators' (and Acme's) time zone
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    problems = Problems()
    opened.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    opened.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.evaluate("window.scrollTo(0, 0)")  # the sticky top bar where it belongs
        opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert list(problems) == [], "the page reported problems"
