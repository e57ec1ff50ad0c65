"""A generic order signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``, made by the official library) through the HTTP webhook route of the
embedded stack: recorded once, a retry of the same message a duplicate, and an unsigned or
badly signed one refused with nothing written.

The stack's clock (``clock``, days away from the machine's) is the one the timestamp is
checked against, as in AWS, where it is the time the delivery is received.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import GenericStore, sign_standard
from tests.builders import JANE, KITE, LONDON
from tests.integration.stack import audit_actions, deliver, table_items

MESSAGE_ID = "msg_2Kk7QpV0d4Rz9Xw1Lm3N5bT8yHc"


def _order(kite: GenericStore, clock: ManualClock, order_id: str) -> dict[str, object]:
    return kite.order(
        order_id, version=1, lines=[KITE], person=JANE, address=LONDON,
        updated_at=clock.now(), payment_status="paid",
    )  # fmt: skip


def test_a_standard_webhooks_order_is_created_and_its_retry_is_a_duplicate(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock
) -> None:
    # Given a paid generic order signed the Standard Webhooks way
    order = _order(kite, clock, "KK-SW-1")
    first = kite.deliver("order.upsert", order, signed_at=clock.now(), message_id=MESSAGE_ID)

    # When it arrives, and the sender retries the same message a minute later (same
    # webhook-id and body, a fresh webhook-timestamp and signature), and once more unchanged
    created = deliver(runtime, first)
    assert runtime.settle()
    order_id = created.json()["order_id"]
    writes, trail = runtime.writes.count, audit_actions(runtime, order_id)
    clock.advance(timedelta(minutes=1))
    retry = kite.deliver("order.upsert", order, signed_at=clock.now(), message_id=MESSAGE_ID)
    again = deliver(runtime, retry)
    same = deliver(runtime, first)

    # Then the first is recorded and its workflow started; the retries are duplicates that
    # write nothing and start nothing
    assert (created.status, created.json()["outcome"]) == (202, "created"), created.body
    assert retry.headers["webhook-signature"] != first.headers["webhook-signature"]
    for answer in (again, same):
        assert answer.status == 200, answer.body
        assert (answer.json()["order_id"], answer.json()["outcome"]) == (order_id, "duplicate")
    assert runtime.writes.count == writes
    assert audit_actions(runtime, order_id) == trail
    assert [e["name"] for e in runtime.executions()] == [order_id]


def test_an_unsigned_or_badly_signed_standard_webhooks_order_is_refused(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock
) -> None:
    # Given the same order without its signature, signed with another secret, signed over
    # another body, and signed ten minutes before it arrives (tolerance: five)
    order = _order(kite, clock, "KK-SW-2")
    genuine = kite.deliver("order.upsert", order, signed_at=clock.now(), message_id=MESSAGE_ID)
    unsigned = replace(
        genuine, headers={k: v for k, v in genuine.headers.items() if k != "webhook-signature"}
    )
    other_secret = replace(
        genuine,
        headers={
            **genuine.headers,
            "webhook-signature": sign_standard(
                genuine.body, "not-the-stores-secret", MESSAGE_ID, clock.now()
            ),
        },
    )
    other_body = replace(genuine, body=genuine.body.replace(b'"quantity": 1', b'"quantity": 7'))
    assert other_body.body != genuine.body
    stale = kite.deliver(
        "order.upsert", order, signed_at=clock.now() - timedelta(minutes=10), message_id=MESSAGE_ID
    )
    writes = runtime.writes.count

    # When they arrive
    answers = {
        name: deliver(runtime, delivery)
        for name, delivery in [
            ("unsigned", unsigned), ("other-secret", other_secret), ("other-body", other_body),
            ("stale", stale),
        ]
    }  # fmt: skip

    # Then each is a 401 saying what is wrong, and nothing at all was written
    for name, answer in answers.items():
        assert answer.status == 401, (name, answer.body)
        assert answer.json()["error"] == "SignatureInvalid", name
    messages = {name: answer.json()["message"] for name, answer in answers.items()}
    assert messages["unsigned"].startswith("missing webhook-signature header")
    assert messages["other-secret"] == "webhook-signature header does not match the body"
    assert messages["other-body"] == "webhook-signature header does not match the body"
    assert "600 s before Shipshape's clock" in messages["stale"]
    assert "300 s tolerance" in messages["stale"]
    assert runtime.writes.count == writes
    assert table_items(runtime) == []
    assert runtime.executions() == []
