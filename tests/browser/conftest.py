"""Fixtures for the dashboard's browser tests: the embedded stack served over HTTP on
127.0.0.1 with seeded orders, and Debian's chromium driven by Playwright.

The stack is seeded once per module (it takes a few seconds); each test gets a fresh browser
context, signs in like an operator, and leaves a screenshot in ``test-artifacts/browser``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.runtime import EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import Line, Person, PostalAddress, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
LEAD_TOKEN = "dev-token-lead"  # olivia.lead, every client (dev-secrets.toml)
LEAD = {"Authorization": f"Bearer {LEAD_TOKEN}"}
SECOND_LEAD = {"Authorization": "Bearer dev-token-lead-2"}  # hana.lead
CLIENT = "acme-outdoors"
# Monday 2026-11-23, 08:30 in Portland: the demo's start, so deadlines are the same each run.
START = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)

JANE = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
SAM = Person("Sam", "Rivera", "sam.rivera@example.com", "+1 206 555 0142")
PORTLAND = PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US")
NO_ZIP = PostalAddress("500 SW Market St", "Portland", "OR", "", "US")
MUG = Line("MUG-ENAMEL-12", "Enamel camp mug 12 oz", 2, "14.50")

CHROMIUM_MISSING = (
    "Debian's chromium is not installed (no `chromium` on PATH), and the dashboard's browser "
    "tests drive it. `make chromium` installs it (apt-get install chromium)."
)


def ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


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


def call(
    runtime: EmbeddedRuntime,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> HttpResponse:
    return runtime.http(
        method, path, headers=headers or LEAD, body=json.dumps(body) if body is not None else None
    )


@dataclass(frozen=True)
class SeededStack:
    """The embedded stack on a real port, and what was seeded into it."""

    runtime: EmbeddedRuntime
    url: str
    shipped: tuple[str, ...]
    overdue_exception: dict[str, Any]  # escalated once, then past its new deadline too
    fresh_exception: dict[str, Any]  # just opened, due later today

    def get(self, path: str) -> Any:
        answer = call(self.runtime, "GET", path)
        assert answer.status == 200, (path, answer.status, answer.body)
        return answer.json()


def _order_status(runtime: EmbeddedRuntime, order_id: str) -> str:
    return str(call(runtime, "GET", f"/orders/{order_id}").json().get("status"))


def _place(runtime: EmbeddedRuntime, store: ShopifyStore, n: int, **fields: Any) -> str:
    now = runtime.clock.now()
    payload = store.order(
        5_610_000 + n, 2000 + n, lines=[MUG], created_at=now, updated_at=now,
        financial_status="paid", **{"person": JANE, "address": PORTLAND, **fields},
    )  # fmt: skip
    delivery = store.deliver("orders/paid", payload)
    answer = runtime.http("POST", delivery.path, headers=delivery.headers, body=delivery.body)
    assert answer.status == 202, answer.body
    return str(answer.json()["order_id"])


def _open_exception(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any]:
    assert runtime.wait_for(lambda: _order_status(runtime, order_id) == "EXCEPTION", timeout=20)
    exception_id = call(runtime, "GET", f"/orders/{order_id}").json()["open_exception_id"]
    queue = call(runtime, "GET", f"/exceptions?client={CLIENT}").json()["exceptions"]
    return dict(next(e for e in queue if e["exception_id"] == exception_id))


def _past(runtime: EmbeddedRuntime, due_at: str) -> None:
    """Move the clock half an hour past a deadline (nobody acted)."""
    due = datetime.fromisoformat(due_at.replace("Z", "+00:00"))
    runtime.clock.advance(due - runtime.clock.now() + timedelta(minutes=30))


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
            first, second, third = (_place(runtime, acme, n) for n in (1, 2, 3))
            late_order = _place(runtime, acme, 4, address=NO_ZIP)
            assert warehouse.run([first], timeout=20) == {first: "SHIPPED"}

            late = _open_exception(runtime, late_order)
            _past(runtime, late["due_at"])
            swept = runtime.run_function("SweeperFunction", {"source": "aws.scheduler"})
            assert [e["exception_id"] for e in swept["escalated"]] == [late["exception_id"]]
            late = _open_exception(runtime, late_order)
            _past(runtime, late["due_at"])  # the escalated owner misses it as well

            shipped = warehouse.run([second, third], timeout=20)
            assert shipped == {second: "SHIPPED", third: "SHIPPED"}, shipped
            fresh = _open_exception(runtime, _place(runtime, acme, 5, address=NO_ZIP, person=SAM))
            late = _open_exception(runtime, late_order)
            assert late["overdue"] and not fresh["overdue"], (late, fresh)

            yield SeededStack(runtime, door.url, (first, second, third), late, fresh)
        finally:
            door.stop()
        assert runtime.integration_errors == [], "a handler crashed:\n" + "\n".join(
            runtime.integration_errors
        )


class Problems(list[str]):
    """What went wrong inside the page: uncaught errors and Content-Security-Policy refusals."""


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


def sign_in(page: Page, stack: SeededStack, token: str = LEAD_TOKEN) -> None:
    """Open the dashboard and sign in the way an operator does: paste the token."""
    page.goto(f"{stack.url}/dashboard")
    page.get_by_label("Operator token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("operator")).to_contain_text("olivia.lead")
    expect(page.get_by_test_id("client-select")).to_have_value(CLIENT)
