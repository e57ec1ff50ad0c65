"""What the dashboard's browser tests share besides fixtures: who signs in, the seeded stack's
record and how it is seeded, calls to its API, and signing in the way an operator does (through
the user pool's sign-in page, which the embedded runtime's local issuer serves)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from shipshape_local.issuer import dev_bearer, dev_operators, dev_token
from shipshape_local.runtime import EmbeddedRuntime, HttpResponse
from shipshape_local.storefronts import Line, Person, PostalAddress, ShopifyStore

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
LEAD_NAME = "olivia.lead"  # every client (dev-secrets.toml)
LEAD_PASSWORD = dev_operators()[LEAD_NAME].password
LEAD_TOKEN = dev_token(LEAD_NAME)
LEAD = {"Authorization": f"Bearer {LEAD_TOKEN}"}
SECOND_LEAD = dev_bearer("hana.lead")
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


def order_status(runtime: EmbeddedRuntime, order_id: str) -> str:
    return str(call(runtime, "GET", f"/orders/{order_id}").json().get("status"))


def place(runtime: EmbeddedRuntime, store: ShopifyStore, n: int, **fields: Any) -> str:
    now = runtime.clock.now()
    payload = store.order(
        5_610_000 + n, 2000 + n, lines=[MUG], created_at=now, updated_at=now,
        financial_status="paid", **{"person": JANE, "address": PORTLAND, **fields},
    )  # fmt: skip
    delivery = store.deliver("orders/paid", payload)
    answer = runtime.http("POST", delivery.path, headers=delivery.headers, body=delivery.body)
    assert answer.status == 202, answer.body
    return str(answer.json()["order_id"])


def open_exception(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any]:
    assert runtime.wait_for(lambda: order_status(runtime, order_id) == "EXCEPTION", timeout=20)
    exception_id = call(runtime, "GET", f"/orders/{order_id}").json()["open_exception_id"]
    queue = call(runtime, "GET", f"/exceptions?client={CLIENT}").json()["exceptions"]
    return dict(next(e for e in queue if e["exception_id"] == exception_id))


def past(runtime: EmbeddedRuntime, due_at: str) -> None:
    """Move the clock half an hour past a deadline (nobody acted)."""
    due = datetime.fromisoformat(due_at.replace("Z", "+00:00"))
    runtime.clock.advance(due - runtime.clock.now() + timedelta(minutes=30))


class Problems(list[str]):
    """What went wrong inside the page: uncaught errors and Content-Security-Policy refusals."""


def sign_in(
    page: Page, stack: SeededStack, username: str = LEAD_NAME, password: str = LEAD_PASSWORD
) -> None:
    """Open the dashboard and sign in the way an operator does: through the user pool's
    sign-in page (the authorization code grant with PKCE), back to the dashboard."""
    page.goto(f"{stack.url}/dashboard")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize?**")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("operator")).to_contain_text(username)
    expect(page.get_by_test_id("client-select")).to_have_value(CLIENT)
