"""The operators' dashboard in a real browser (Debian's chromium through Playwright), against
the embedded stack over HTTP: what an operator sees on a Monday and what they can do from it.

The tests share one seeded stack and run in file order: the last ones change it (a rule change
goes live, an exception is resolved)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pyotp
import pytest
from playwright.sync_api import Page, Request, expect

from shipshape_local.issuer import CLIENT_ID, dev_operators
from tests.browser.support import (
    ARTIFACTS,
    CLIENT,
    LEAD_NAME,
    LEAD_PASSWORD,
    SECOND_LEAD,
    SeededStack,
    call,
    sign_in,
)

# The embedded handlers publish no business metric on most calls; on Lambda that is a log line.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

PORTLAND_TZ = ZoneInfo("America/Los_Angeles")
SESSION_KEY = "shipshape.session"  # where the page keeps its tokens (sessionStorage)

CHART_DATA = """() => Object.fromEntries(
  ["fulfillment", "exceptions", "sla", "escalations"].map((key) => {
    const chart = Chart.getChart(document.querySelector(`[data-testid="chart-${key}"]`));
    return [key, chart ? {
      type: chart.config.type,
      labels: chart.data.labels,
      datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
      drawn: chart.getDatasetMeta(0).data.length,
    } : null];
  })
)"""


def _row(page: Page, exception: dict[str, Any]) -> Any:
    return page.locator(
        f'[data-testid="exception-row"][data-exception-id="{exception["exception_id"]}"]'
    )


def _local_time(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(PORTLAND_TZ)
    return moment.strftime("%I:%M").lstrip("0")


def test_the_queue_shows_each_exception_with_its_owner_and_deadline(
    page: Page, stack: SeededStack
) -> None:
    # Given an operator signed in to the dashboard
    sign_in(page, stack)

    # When the exception queue loads for Acme
    rows = page.get_by_test_id("exception-row")
    expect(rows).to_have_count(2)

    # Then both address exceptions are listed, earliest deadline first, each with its owner,
    # level and deadline; the one past its deadline is marked and labelled overdue
    late, fresh = stack.overdue_exception, stack.fresh_exception
    expect(rows.first).to_have_attribute("data-exception-id", late["exception_id"])
    for exception in (late, fresh):
        row = _row(page, exception)
        expect(row.get_by_test_id("exception-type")).to_have_text("address_invalid")
        expect(row.get_by_test_id("order-link")).to_have_text(exception["order_id"])
        expect(row.get_by_test_id("exception-owner")).to_have_text(exception["owner"])
        expect(row.get_by_test_id("exception-level")).to_have_text(str(exception["level"]))
        deadline = row.get_by_test_id("exception-deadline")
        expect(deadline.locator("time")).to_have_attribute("datetime", exception["due_at"])
        expect(deadline).to_contain_text(_local_time(exception["due_at"]))
        expect(row.get_by_role("button", name="Claim")).to_be_visible()
        expect(row.get_by_role("button", name="Resolve")).to_be_visible()
    assert (late["owner"], late["level"]) == ("carla.cs-lead", 1)
    expect(_row(page, late)).to_have_class(re.compile(r"\boverdue\b"))
    expect(_row(page, late).get_by_test_id("overdue-badge")).to_have_text("Overdue")
    expect(_row(page, fresh).get_by_test_id("overdue-badge")).to_have_count(0)
    expect(page.get_by_test_id("queue-error")).to_be_hidden()


def test_the_metric_charts_draw_the_seeded_numbers(page: Page, stack: SeededStack) -> None:
    # Given Acme's metrics as the API reports them: 5 orders received, 3 shipped (one at once,
    # two after about five hours), 2 address exceptions, one escalated past client success
    metrics = stack.get(f"/metrics?client={CLIENT}&days=30")
    assert (metrics["orders"]["received"], metrics["orders"]["shipped"]) == (5, 3)
    assert metrics["fulfillment_hours"]["count"] == 3
    assert metrics["escalations_per_owner"] == [{"owner": "client-success", "escalations": 1}]

    # When the operator opens the dashboard
    sign_in(page, stack)
    expect(page.get_by_test_id("kpi-received")).to_have_text("5")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector("
        "'[data-testid=\"chart-escalations\"]'))"
    )
    charts = page.evaluate(CHART_DATA)

    # Then the headline numbers and all four charts show those numbers
    expect(page.get_by_test_id("kpi-shipped")).to_have_text("3")
    expect(page.get_by_test_id("metrics-period")).to_have_text(
        f"{metrics['from']} to {metrics['to']}"
    )
    histogram = metrics["fulfillment_hours"]["histogram"]
    fulfillment = charts["fulfillment"]
    assert fulfillment["labels"] == [b["label"] for b in histogram]
    assert fulfillment["datasets"][0]["data"] == [b["count"] for b in histogram]
    assert sum(fulfillment["datasets"][0]["data"]) == 3
    assert fulfillment["drawn"] == len(histogram)

    by_type = {row["type"]: row for row in metrics["exceptions"]["by_type"]}
    rates = charts["exceptions"]["datasets"][0]["data"]
    exceptions = dict(zip(charts["exceptions"]["labels"], rates, strict=True))
    assert by_type["address_invalid"]["opened"] == 2
    assert exceptions["address_invalid"] == round(by_type["address_invalid"]["rate"] * 100, 1) > 0

    sla = {d["label"]: d["data"] for d in charts["sla"]["datasets"]}
    assert sla["Met"] == [day["sla_met"] for day in metrics["daily"]]
    assert sla["Missed"] == [day["sla_missed"] for day in metrics["daily"]]
    assert sum(sla["Missed"]) == metrics["sla"]["missed"] >= 1
    compliance = metrics["sla"]["compliance"]
    expect(page.get_by_test_id("sla-compliance")).to_have_text(
        "—" if compliance is None else f"{compliance * 100:.1f} %"
    )

    escalations = charts["escalations"]
    assert escalations["labels"] == ["client-success"]
    assert escalations["datasets"][0]["data"] == [1]
    expect(page.get_by_test_id("metrics-error")).to_be_hidden()
    page.get_by_test_id("metrics-panel").scroll_into_view_if_needed()


def test_the_monday_checklist_shows_every_item_with_its_entries(
    page: Page, stack: SeededStack
) -> None:
    # Given Acme's checklist as the API reports it
    checklist = stack.get(f"/checklist?client={CLIENT}")

    # When the operator opens the dashboard
    sign_in(page, stack)
    items = page.get_by_test_id("checklist-item")

    # Then each item is there, in order, with an ok/attention badge, its summary and entries
    expect(items).to_have_count(len(checklist["items"]))
    for shown, item in zip(items.all(), checklist["items"], strict=True):
        expect(shown).to_have_attribute("data-key", item["key"])
        expect(shown.get_by_role("heading")).to_have_text(item["title"])
        expect(shown.get_by_test_id("checklist-badge")).to_have_text(
            "OK" if item["ok"] else "Attention"
        )
        expect(shown.get_by_test_id("checklist-summary")).to_have_text(item["summary"])
        rows = shown.get_by_test_id("checklist-entries").locator("tbody tr")
        expect(rows).to_have_count(len(item["entries"]))
    overdue = page.locator('[data-testid="checklist-item"][data-key="overdue"]')
    expect(overdue.get_by_test_id("checklist-badge")).to_have_text("Attention")
    expect(overdue.get_by_test_id("checklist-entries")).to_contain_text(
        stack.overdue_exception["order_id"]
    )
    expect(page.get_by_test_id("checklist-error")).to_be_hidden()
    page.get_by_test_id("checklist-panel").scroll_into_view_if_needed()


def test_a_lead_approves_and_activates_a_pending_rule_change(
    page: Page, stack: SeededStack
) -> None:
    # Given another lead proposed giving client success three hours for address problems
    proposal = {
        "summary": "Give client success three hours for address problems",
        "base_version": 1,
        "changes": {"rules": {"exceptions": {"address_invalid": {"sla_hours": 3}}}},
    }
    proposed = call(stack.runtime, "POST", f"/rules/{CLIENT}/changes", SECOND_LEAD, proposal)
    assert proposed.status == 201, proposed.body
    change = proposed.json()

    # When the lead signs in, reads it, approves it, then activates it
    sign_in(page, stack)
    card = page.locator(
        f'[data-testid="rule-change"][data-client="{CLIENT}"][data-version="{change["version"]}"]'
    )
    expect(card.get_by_test_id("rule-change-summary")).to_have_text(proposal["summary"])
    expect(card).to_contain_text("Proposed by hana.lead")
    notes = card.get_by_test_id("release-notes").locator("li")
    expect(notes).to_have_text(change["release_notes"])
    expect(notes.first).to_contain_text("address_invalid.sla_hours")
    expect(card.get_by_role("button", name="Activate")).to_be_disabled()
    page.get_by_test_id("rules-panel").scroll_into_view_if_needed()
    card.get_by_role("button", name="Approve").click()
    expect(card.get_by_test_id("rule-change-status")).to_have_text("approved")
    expect(card).to_contain_text("approved by olivia.lead")
    card.get_by_role("button", name="Activate").click()

    # Then the change is live, and the API agrees
    expect(card.get_by_test_id("rule-change-status")).to_have_text("active")
    expect(card.get_by_role("button", name="Approve")).to_be_disabled()
    expect(card.get_by_role("button", name="Activate")).to_be_disabled()
    history = stack.get(f"/rules/{CLIENT}")
    assert any(
        v["version"] == change["version"] and v["status"] == "active" for v in history["versions"]
    ), history


def test_claim_then_resolve_with_a_corrected_address_moves_the_order_on(
    page: Page, stack: SeededStack
) -> None:
    # Given the afternoon's address exception in the queue
    exception = stack.fresh_exception
    sign_in(page, stack)
    row = _row(page, exception)

    # When the lead claims it, then resolves it with the customer's ZIP code
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_test_id("exception-status")).to_have_text("Claimed by you")
    expect(row.get_by_role("button", name="Claim")).to_have_count(0)
    row.get_by_role("button", name="Resolve").click()
    dialog = page.get_by_test_id("resolve-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Street (line 1)")).to_have_value("500 SW Market St")
    dialog.get_by_label("Action").select_option("retry")
    dialog.get_by_label("Note").fill("ZIP confirmed with the customer <b>by phone</b>")
    expect(dialog.get_by_label("Postal code")).to_have_value("")
    dialog.get_by_label("Postal code").fill("97204")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "resolve-dialog.png"))
    dialog.get_by_role("button", name="Resolve").click()

    # Then the exception leaves the queue, and the order's timeline shows the resolution and
    # the order past EXCEPTION; the note is shown as text, not as markup
    expect(dialog).to_be_hidden()
    expect(_row(page, exception)).to_have_count(0)
    timeline = page.get_by_test_id("timeline-panel")
    expect(timeline.get_by_test_id("timeline-order-id")).to_have_text(exception["order_id"])
    resolved = timeline.locator('[data-testid="audit-row"][data-action="exception_resolved"]')
    expect(resolved).to_have_count(1)
    expect(resolved).to_contain_text("operator/olivia.lead")
    expect(resolved.get_by_test_id("audit-transition")).to_have_text(re.compile(r"EXCEPTION → "))
    detail = resolved.get_by_test_id("audit-detail")
    expect(detail).to_contain_text("ZIP confirmed with the customer <b>by phone</b>")
    expect(detail.locator("b")).to_have_count(0)
    expect(timeline.get_by_test_id("timeline-status")).not_to_have_text("EXCEPTION")
    expect(timeline.get_by_test_id("timeline-status")).not_to_have_text("—")
    order = stack.get(f"/orders/{exception['order_id']}")
    assert order["shipping_address"]["postal_code"] == "97204"
    assert order["shipping_address"]["name"] == "Sam Rivera"  # kept from the order
    # And the order's commerce facts are shown as the storefront states them: its number
    # linked to the storefront's admin, payment, total and tax, customer, lines
    link = timeline.get_by_test_id("timeline-admin-link")
    expect(link).to_have_attribute("href", order["storefront_admin_url"])
    assert order["storefront_admin_url"].startswith("https://acme-outdoors.myshopify.com/admin/")
    expect(timeline.get_by_test_id("timeline-payment")).to_have_text(order["payment"])
    expect(timeline.get_by_test_id("timeline-total")).to_contain_text(
        f"{order['currency']} {order['total']}"
    )
    expect(timeline.get_by_test_id("timeline-customer")).to_contain_text("Sam Rivera")
    first = order["lines"][0]
    expect(timeline.get_by_test_id("timeline-lines")).to_contain_text(
        f"{first['quantity']} \u00d7 {first['sku']}"
    )
    timeline.screenshot(path=str(ARTIFACTS / "order-timeline.png"))


def test_signing_in_through_the_user_pool_shows_the_exception_queue(
    page: Page, stack: SeededStack
) -> None:
    # Given the dashboard, and a record of what the browser asks of the user pool's domain
    asked: list[tuple[str, dict[str, list[str]]]] = []

    def note(request: Request) -> None:
        url = urlsplit(request.url)
        if url.path in ("/oauth2/authorize", "/oauth2/token"):
            fields = url.query if request.method == "GET" else request.post_data or ""
            asked.append((url.path, parse_qs(fields)))

    page.on("request", note)
    page.goto(f"{stack.url}/dashboard")
    expect(page.get_by_test_id("sign-in")).to_be_visible()

    # When the lead signs in on the user pool's sign-in page
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize?**")
    page.get_by_label("Username").fill(LEAD_NAME)
    page.get_by_label("Password").fill(LEAD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Then they are back on the dashboard, signed in as their user name, with the queue
    expect(page.get_by_test_id("operator")).to_contain_text("olivia.lead")
    # (the overdue one is still open: the tests above resolved the fresh one)
    expect(_row(page, stack.overdue_exception)).to_be_visible()
    assert urlsplit(page.url).query == "", "the code must not stay in the address bar"
    # and the page used the authorization code grant with PKCE (S256) for its own address
    (authorize_path, authorize), (token_path, token) = asked
    assert (authorize_path, token_path) == ("/oauth2/authorize", "/oauth2/token")
    redirect = [f"{stack.url}/dashboard"]
    assert authorize["response_type"] == ["code"]
    assert authorize["code_challenge_method"] == ["S256"]
    assert authorize["redirect_uri"] == redirect
    assert token["grant_type"] == ["authorization_code"] and token["redirect_uri"] == redirect
    verifier = token["code_verifier"][0]
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert authorize["code_challenge"] == [challenge]
    page.screenshot(path=str(ARTIFACTS / "signed-in-through-the-user-pool.png"))


def test_a_wrong_password_is_not_signed_in(page: Page, stack: SeededStack) -> None:
    # Given the user pool's sign-in page, reached from the dashboard
    page.goto(f"{stack.url}/dashboard")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize?**")

    # When the lead types a wrong password
    page.get_by_label("Username").fill(LEAD_NAME)
    page.get_by_label("Password").fill("not-the-password-1A!")
    page.get_by_role("button", name="Sign in").click()

    # Then the sign-in page says so and the dashboard keeps no session
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    assert page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None


def test_a_new_operator_sets_a_password_before_the_first_sign_in(
    page: Page, stack: SeededStack
) -> None:
    # Given an operator an administrator created, with a temporary password
    temporary = dev_operators()["nora.new"].password
    page.goto(f"{stack.url}/dashboard")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Username").fill("nora.new")
    page.get_by_label("Password").fill(temporary)
    page.get_by_role("button", name="Sign in").click()

    # When they are asked for a new password, and first choose one the policy refuses
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set password and sign in").click()
    refused = page.get_by_role("alert").text_content()
    page.get_by_label("New password").fill("Nora-chose-this-1")
    page.get_by_role("button", name="Set password and sign in").click()

    # Then the weak one was refused, the strong one signs them in to the dashboard
    assert refused is not None and "Password does not conform to policy" in refused
    expect(page.get_by_test_id("operator")).to_contain_text("nora.new")
    expect(page.get_by_test_id("client-select")).to_have_value(CLIENT)


def test_an_operator_with_mfa_signs_in_with_their_apps_code_on_a_phone(
    page: Page, stack: SeededStack
) -> None:
    # Given Mia, who turned on MFA, signing in on a phone-sized screen
    mia = dev_operators()["mia.operator"]
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{stack.url}/dashboard")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Username").fill("mia.operator")
    page.get_by_label("Password").fill(mia.password)
    page.get_by_role("button", name="Sign in").click()

    # When she is asked for her authenticator app's code, gives a wrong one, then the right one
    page.get_by_label("Code").fill(f"{(int(pyotp.TOTP(mia.totp_secret).now()) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Verify and sign in").click()
    refused = page.get_by_role("alert").text_content()
    page.screenshot(path=str(ARTIFACTS / "mfa-code-refused-phone.png"))
    page.get_by_label("Code").fill(pyotp.TOTP(mia.totp_secret).now())
    page.get_by_role("button", name="Verify and sign in").click()

    # Then the wrong code kept her out, and the right one signed her in to the dashboard
    assert refused == "Incorrect code."
    expect(page.get_by_test_id("operator")).to_contain_text("mia.operator")
    expect(page.get_by_test_id("client-select")).to_have_value(CLIENT)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    wide = page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect()"
        ".right > 391 && e.offsetParent !== null && getComputedStyle(e).position !== 'fixed')"
        ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 12)"
    )
    assert width <= 390, f"the dashboard is {width} px wide on a 390 px screen: {wide}"


def test_the_session_lasts_as_long_as_the_tab_and_signing_out_forgets_it(
    page: Page, stack: SeededStack
) -> None:
    # Given an operator signed in
    sign_in(page, stack)

    # When the page is reloaded, then the operator signs out
    page.reload()
    expect(page.get_by_test_id("operator")).to_contain_text("olivia.lead")
    expect(page.get_by_test_id("sign-in")).to_be_hidden()
    kept = json.loads(page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')"))
    page.get_by_role("button", name="Sign out").click()

    # Then the reload kept the session (in this tab's sessionStorage only): an ID token the
    # API accepts for the lead, and a refresh token
    me = call(stack.runtime, "GET", "/me", {"Authorization": f"Bearer {kept['idToken']}"})
    assert (me.status, me.json()["subject"]) == (200, "olivia.lead")
    assert kept["refreshToken"]
    # and signing out forgets it, revokes the refresh token and shows nothing of the dashboard
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    expect(page.get_by_test_id("queue-panel")).to_be_hidden()
    assert page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')") is None
    assert page.evaluate("() => localStorage.length") == 0
    refreshed = stack.runtime.http(
        "POST", "/oauth2/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode({"grant_type": "refresh_token", "client_id": CLIENT_ID,
                        "refresh_token": kept["refreshToken"]}),
    )  # fmt: skip
    assert (refreshed.status, refreshed.json()) == (400, {"error": "invalid_grant"})


def test_the_id_token_is_refreshed_before_it_expires(page: Page, stack: SeededStack) -> None:
    # Given an operator signed in, the page's clock under the test's control
    page.clock.install()
    sign_in(page, stack)
    first = json.loads(page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')"))
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization", "")))

    # When 56 minutes pass in the tab (the ID token lasts an hour), then the queue is refreshed
    with page.expect_request(lambda r: r.url.endswith("/oauth2/token")) as refresh:
        page.clock.run_for("56:00")
    assert parse_qs(refresh.value.post_data or "")["grant_type"] == ["refresh_token"]
    changed = f"JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).idToken !== arguments[0]"
    page.wait_for_function(
        f"(old) => {changed.replace('arguments[0]', 'old')}", arg=first["idToken"]
    )
    page.get_by_test_id("queue-refresh").click()
    expect(_row(page, stack.overdue_exception)).to_be_visible()

    # Then the page holds a new ID token, keeps the refresh token, and calls the API with it
    second = json.loads(page.evaluate(f"() => sessionStorage.getItem('{SESSION_KEY}')"))
    assert second["idToken"] != first["idToken"]
    assert second["refreshToken"] == first["refreshToken"]
    assert f"Bearer {second['idToken']}" in sent
    expect(page.get_by_test_id("operator")).to_contain_text("olivia.lead")


def test_a_failing_call_shows_its_error_in_its_panel_only(page: Page, stack: SeededStack) -> None:
    # Given the metrics route answering with the API's error body (a throttled dependency)
    page.route(
        re.compile(r".*/metrics\?.*"),
        lambda route: route.fulfill(
            status=503,
            json={"error": "ServiceUnavailable", "message": "try again shortly; nothing was lost"},
        ),
    )

    # When the operator signs in
    sign_in(page, stack)

    # Then the metrics panel says what went wrong, and the rest of the dashboard works
    expect(page.get_by_test_id("metrics-error")).to_have_text(
        "try again shortly; nothing was lost (ServiceUnavailable, HTTP 503)"
    )
    expect(page.get_by_test_id("exception-row")).not_to_have_count(0)
    expect(page.get_by_test_id("checklist-item")).not_to_have_count(0)
    expect(page.get_by_test_id("queue-error")).to_be_hidden()
