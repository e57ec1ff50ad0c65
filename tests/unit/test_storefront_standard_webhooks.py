"""The generic format signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), beside Shipshape's own ``Shipshape-Signature``.

Deliveries are signed with the official ``standardwebhooks`` library (``Webhook.sign``), as a
sender using it would, with the spec's HMAC written out by hand, and with the fixed vector of
the Standard Webhooks repository's own test suite. The clock is the delivery's ``received_at``
(Shipshape's clock), never the machine's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from shipshape.errors import SignatureInvalid
from shipshape.storefronts.base import WebhookDelivery
from shipshape.storefronts.generic import (
    GenericAdapter,
    generic_adapter,
    standard_webhooks_keys,
)
from tests.builders import GENERIC_SENDER as SENDER
from tests.helpers import load_event, sign_generic, webhook_delivery

# Stored as Shipshape stores webhook secrets: the raw bytes of the secret's text.
SECRET = b"kk-standard-current-6f2d9a41c7e3"
OLD_SECRET = b"kk-standard-previous-0b8e5d27a1f4"
RECEIVED_AT = datetime(2026, 11, 20, 15, 15, 40, tzinfo=UTC)
NOW = int(RECEIVED_AT.timestamp())
MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
BODY = load_event("generic/order_upsert_paid.json")

# The Standard Webhooks repository's fixed vector: libraries/python/tests/test_webhooks.py,
# test_sign_function (the same vector is in libraries/javascript/src/webhook.test.ts and
# libraries/go/webhook_test.go), repository standard-webhooks/standard-webhooks at b2fa7b8.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# The same file's test_invalid_signature_raises_error: the vector, its last digit changed.
VECTOR_FORGED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="


def whsec(secret: bytes) -> str:
    """The secret as a Standard Webhooks sender is given it: whsec_ + base64(its bytes)."""
    return "whsec_" + base64.b64encode(secret).decode()


def library_signature(
    body: bytes = BODY,
    *,
    secret: bytes = SECRET,
    t: int = NOW,
    message_id: str = MESSAGE_ID,
) -> str:
    """``webhook-signature`` as the official library makes it."""
    moment = datetime.fromtimestamp(t, UTC)
    return Webhook(whsec(secret)).sign(msg_id=message_id, timestamp=moment, data=body.decode())


def hand_signature(key: bytes, message_id: str, t: int, body: bytes) -> str:
    """The spec written out: v1,base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))."""
    digest = hmac.digest(key, f"{message_id}.{t}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest).decode()


def standard_delivery(
    body: bytes = BODY,
    *,
    headers: Mapping[str, str | None] | None = None,
    received_at: datetime = RECEIVED_AT,
) -> WebhookDelivery:
    """A Standard Webhooks delivery as a custom shop sends it; ``headers`` overrides (None
    drops one). Signed by the library with SECRET at NOW unless overridden."""
    overrides = headers or {}
    sent: dict[str, str | None] = {
        "Content-Type": "application/json",
        "Shipshape-Source": SENDER,
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(NOW),
        **(
            {}
            if "webhook-signature" in overrides
            else {"webhook-signature": library_signature(body)}
        ),
        **overrides,
    }
    present = {name: value for name, value in sent.items() if value is not None}
    return webhook_delivery(present, body, received_at)


def refused(delivery: WebhookDelivery, secrets: list[bytes] | None = None) -> str:
    """The message ``verify`` refuses ``delivery`` with; never a secret or an expected value."""
    used = [SECRET] if secrets is None else secrets
    with pytest.raises(SignatureInvalid) as caught:
        generic_adapter.verify(delivery, used)
    message = str(caught.value)
    for secret in (SECRET, OLD_SECRET):
        assert secret.decode() not in message
        assert whsec(secret) not in message
        assert library_signature(secret=secret).split(",", 1)[1] not in message
    return message


MISMATCH = "webhook-signature header does not match the body"


# --- what opens a delivery ----------------------------------------------------------------


def test_a_delivery_the_library_signed_is_verified() -> None:
    # Given a delivery signed by the Standard Webhooks library with the store's secret in its
    # whsec_ form
    delivery = standard_delivery()

    # When it is verified against the stored secret
    # Then it passes
    assert generic_adapter.verify(delivery, [SECRET]) is None


def test_the_library_signs_exactly_what_the_spec_describes() -> None:
    # Given the signature the spec's formula gives, computed by hand with the raw secret
    signature = hand_signature(SECRET, MESSAGE_ID, NOW, BODY)

    # When it is compared with the library's, and verified
    delivery = standard_delivery(headers={"webhook-signature": signature})

    # Then they are the same, and it passes
    assert signature == library_signature()
    assert generic_adapter.verify(delivery, [SECRET]) is None


@pytest.mark.parametrize(
    "stored",
    [VECTOR_SECRET.encode(), base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))],
    ids=["stored-as-whsec", "stored-as-raw-bytes"],
)
def test_the_standard_webhooks_test_vector_is_verified(stored: bytes) -> None:
    # Given the Standard Webhooks test suite's vector, received at its own timestamp, the
    # store's secret kept as the sender shows it (whsec_...) or as the bytes it stands for
    delivery = webhook_delivery(
        {
            "Shipshape-Source": SENDER,
            "webhook-id": VECTOR_MSG_ID,
            "webhook-timestamp": str(VECTOR_TIMESTAMP),
            "webhook-signature": VECTOR_SIGNATURE,
        },
        VECTOR_PAYLOAD,
        datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC),
    )

    # When it is verified
    # Then it passes, and the library (our signer) still makes that vector
    assert generic_adapter.verify(delivery, [stored]) is None
    assert (
        Webhook(VECTOR_SECRET).sign(
            msg_id=VECTOR_MSG_ID,
            timestamp=datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC),
            data=VECTOR_PAYLOAD.decode(),
        )
        == VECTOR_SIGNATURE
    )


def test_the_standard_webhooks_forged_vector_is_refused() -> None:
    # Given the vector with its last signature digit changed (their invalid-signature case)
    delivery = webhook_delivery(
        {
            "webhook-id": VECTOR_MSG_ID,
            "webhook-timestamp": str(VECTOR_TIMESTAMP),
            "webhook-signature": VECTOR_FORGED,
        },
        VECTOR_PAYLOAD,
        datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC),
    )

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        generic_adapter.verify(delivery, [VECTOR_SECRET.encode()])

    # Then it does not match
    assert str(caught.value) == MISMATCH


def test_the_adapter_and_the_librarys_own_verify_agree_on_the_wall_clock() -> None:
    # Given a delivery signed now (the library's verify reads the machine's clock), and the
    # same delivery with one byte of its body changed
    now = datetime.now(UTC).replace(microsecond=0)
    t = int(now.timestamp())
    signature = library_signature(t=t)
    headers = {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(t),
        "webhook-signature": signature,
    }
    genuine = standard_delivery(headers=headers, received_at=now)
    tampered = standard_delivery(
        BODY.replace(b'"quantity": 2', b'"quantity": 9'), headers=headers, received_at=now
    )

    # When both the adapter and the library verify them
    # Then both accept the genuine one and both refuse the tampered one
    assert generic_adapter.verify(genuine, [SECRET]) is None
    assert Webhook(whsec(SECRET)).verify(BODY, headers, json_parse=False) is None
    with pytest.raises(SignatureInvalid):
        generic_adapter.verify(tampered, [SECRET])
    with pytest.raises(Exception, match="No matching signature found"):
        Webhook(whsec(SECRET)).verify(tampered.body, headers, json_parse=False)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_one_valid_signature_among_several_is_enough_wherever_it_stands(position: int) -> None:
    # Given a header listing a signature another secret made, an asymmetric v1a entry and the
    # genuine one, in any order, with a doubled space between two of them
    others = [library_signature(secret=b"some other sender"), "v1a,aGVsbG8gd29ybGQ="]
    entries = [*others[:position], library_signature(), *others[position:]]
    delivery = standard_delivery(headers={"webhook-signature": "  ".join(entries)})

    # When it is verified
    # Then the genuine entry is enough; the unknown version is ignored
    assert generic_adapter.verify(delivery, [SECRET]) is None


# --- rotation -------------------------------------------------------------------------------


@pytest.mark.parametrize("signer", [SECRET, OLD_SECRET], ids=["current", "previous"])
def test_either_secret_of_a_rotation_opens_a_delivery(signer: bytes) -> None:
    # Given a store rotating its secret, and a delivery signed with one of the two
    delivery = standard_delivery(headers={"webhook-signature": library_signature(secret=signer)})

    # When it is verified against both, in either order
    # Then it passes
    assert generic_adapter.verify(delivery, [SECRET, OLD_SECRET]) is None
    assert generic_adapter.verify(delivery, [OLD_SECRET, SECRET]) is None


def test_the_previous_secret_opens_nothing_once_it_is_no_longer_held() -> None:
    # Given a delivery signed with the previous secret, after the rotation window closed
    delivery = standard_delivery(
        headers={"webhook-signature": library_signature(secret=OLD_SECRET)}
    )

    # When it is verified against the current secret alone
    # Then it does not match
    assert refused(delivery, [SECRET]) == MISMATCH


def test_a_sender_signing_with_both_secrets_opens_with_either() -> None:
    # Given a sender mid-rotation that signs with its old and its new secret in one header
    both = f"{library_signature(secret=OLD_SECRET)} {library_signature(secret=SECRET)}"
    delivery = standard_delivery(headers={"webhook-signature": both})

    # When Shipshape holds only one of them
    # Then it passes either way
    assert generic_adapter.verify(delivery, [SECRET]) is None
    assert generic_adapter.verify(delivery, [OLD_SECRET]) is None


# --- the secret, and what opens nothing -----------------------------------------------------


def test_a_secret_stored_in_whsec_form_opens_with_the_key_it_decodes_to() -> None:
    # Given a secret a Standard Webhooks sender issued, stored exactly as it shows it, and a
    # delivery its library signed with that string
    issued = "whsec_" + base64.b64encode(b"issued-by-the-sender-24bytes").decode()
    moment = datetime.fromtimestamp(NOW, UTC)
    signature = Webhook(issued).sign(msg_id=MESSAGE_ID, timestamp=moment, data=BODY.decode())
    delivery = standard_delivery(headers={"webhook-signature": signature})

    # When it is verified against the stored text
    # Then it passes
    assert generic_adapter.verify(delivery, [issued.encode()]) is None


@pytest.mark.parametrize(
    ("stored", "keys"),
    [
        (b"", []),
        (b"raw-secret", [b"raw-secret"]),
        (b"whsec_aGVsbG8=", [b"whsec_aGVsbG8=", b"hello"]),
        (b"whsec_aGVsbG8", [b"whsec_aGVsbG8", b"hello"]),  # unpadded, as the libraries allow
        (b"whsec_kk_5c0e8b2f7a9d4163", [b"whsec_kk_5c0e8b2f7a9d4163"]),  # not base64
        (b"whsec_", [b"whsec_"]),  # decodes to nothing: only its own bytes
    ],
)
def test_the_keys_a_stored_secret_stands_for(stored: bytes, keys: list[bytes]) -> None:
    # Given a stored webhook secret
    # When its Standard Webhooks keys are derived
    # Then they are its own bytes, and what its whsec_ form decodes to; none for an empty one
    assert standard_webhooks_keys(stored) == keys


@pytest.mark.parametrize("secrets", [[], [b""]], ids=["no-secret", "empty-secret"])
@pytest.mark.parametrize("made_by", ["empty-key", "real-secret"])
def test_a_store_without_a_usable_secret_opens_nothing(secrets: list[bytes], made_by: str) -> None:
    # Given a store whose secret is missing or empty, and a delivery signed with the empty key
    # (which anyone can do; the library itself refuses to) or with the real secret
    signature = (
        hand_signature(b"", MESSAGE_ID, NOW, BODY)
        if made_by == "empty-key"
        else library_signature()
    )
    delivery = standard_delivery(headers={"webhook-signature": signature})

    # When it is verified
    # Then it is refused: fail closed
    assert refused(delivery, secrets) == MISMATCH


# --- what is refused, and how -------------------------------------------------------------


def test_a_wrong_signature_is_refused() -> None:
    # Given a well-formed signature the store's secret did not make
    delivery = standard_delivery(
        headers={"webhook-signature": "v1," + base64.b64encode(bytes(32)).decode()}
    )

    # When it is verified
    # Then it does not match, and the message says no more than that
    assert refused(delivery) == MISMATCH


def test_a_body_altered_after_signing_is_refused() -> None:
    # Given a correctly signed delivery whose body is then changed in one byte
    tampered = BODY.replace(b'"quantity": 2', b'"quantity": 9')
    assert len(tampered) == len(BODY) and tampered != BODY
    delivery = standard_delivery(tampered, headers={"webhook-signature": library_signature(BODY)})

    # When it is verified
    # Then the signature no longer matches
    assert refused(delivery) == MISMATCH


@pytest.mark.parametrize(
    "header",
    [{"webhook-id": "msg_someone_elses"}, {"webhook-timestamp": str(NOW + 60)}],
    ids=["id-changed", "timestamp-moved"],
)
def test_the_id_and_the_timestamp_are_covered_by_the_signature(header: dict[str, str]) -> None:
    # Given a genuine signature whose message id or timestamp a replayer changed
    delivery = standard_delivery(headers=header)

    # When it is verified
    # Then it no longer matches
    assert refused(delivery) == MISMATCH


@pytest.mark.parametrize(
    ("dropped", "message"),
    [
        (("webhook-id",), "missing webhook-id header"),
        (("webhook-timestamp",), "missing webhook-timestamp header"),
        (("webhook-signature",), "missing webhook-signature header"),
        (("webhook-id", "webhook-signature"), "missing webhook-id and webhook-signature headers"),
        (
            ("webhook-timestamp", "webhook-signature"),
            "missing webhook-timestamp and webhook-signature headers",
        ),
    ],
)
@pytest.mark.parametrize("how", ["absent", "blank"])
def test_a_missing_header_is_named(dropped: tuple[str, ...], message: str, how: str) -> None:
    # Given a Standard Webhooks delivery without some of its three headers (or sent empty)
    gone: dict[str, str | None] = dict.fromkeys(dropped, None if how == "absent" else "  ")
    delivery = standard_delivery(headers=gone)

    # When it is verified
    # Then the refusal names exactly the headers that are missing
    assert refused(delivery) == (
        f"{message} (Standard Webhooks sends webhook-id, webhook-timestamp and webhook-signature)"
    )


def test_without_either_scheme_the_shipshape_header_is_named() -> None:
    # Given a delivery with no signature header of either scheme
    delivery = standard_delivery(
        headers={"webhook-id": None, "webhook-timestamp": None, "webhook-signature": None}
    )

    # When it is verified
    # Then the refusal is the format's long-standing one
    assert refused(delivery) == "missing Shipshape-Signature header"


ID_RULE = "webhook-id header must be 1 to 256 printable ASCII characters, without spaces or '.'"
TIME_RULE = (
    "webhook-timestamp header is not a unix time in whole seconds "
    "(at most 11 digits, no leading zeros)"
)
ENTRY_RULE = "webhook-signature header is malformed; expected space-separated v1,<base64> entries"


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("webhook-id", "msg.1", ID_RULE),
        ("webhook-id", "msg 1", ID_RULE),
        ("webhook-id", "m" * 257, ID_RULE),
        ("webhook-id", "msg_é", ID_RULE),
        ("webhook-id", "msg_\ud800", ID_RULE),
        ("webhook-timestamp", "now", TIME_RULE),
        ("webhook-timestamp", f"{NOW}.5", TIME_RULE),
        ("webhook-timestamp", "1e9", TIME_RULE),
        ("webhook-timestamp", f"0{NOW}", TIME_RULE),
        ("webhook-timestamp", f"-{NOW}", TIME_RULE),
        ("webhook-timestamp", f"{NOW}000", TIME_RULE),  # milliseconds
        ("webhook-timestamp", "9" * 40, TIME_RULE),
        ("webhook-timestamp", "²", TIME_RULE),
        ("webhook-timestamp", f"{NOW},{NOW}", TIME_RULE),  # sent twice, joined by a comma
        ("webhook-signature", "v1", ENTRY_RULE),
        ("webhook-signature", ",AAAA", ENTRY_RULE),
        ("webhook-signature", "v1a,aGk= junk", ENTRY_RULE),
        ("webhook-signature", "v1,not-base64!", "webhook-signature v1 entry is not base64"),
        ("webhook-signature", "v1,\ud800", "webhook-signature v1 entry is not base64"),
        ("webhook-signature", "v1,aGVsbG8=", "webhook-signature v1 entry is not an HMAC-SHA256 "
         "digest"),
        (
            "webhook-signature",
            "v1a,aGVsbG8gd29ybGQ= v2,aGVsbG8=",
            "webhook-signature header has no v1 entry; Shipshape checks symmetric "
            "(v1, HMAC-SHA256) signatures only",
        ),
    ],
)  # fmt: skip
def test_a_malformed_header_is_refused_precisely(header: str, value: str, message: str) -> None:
    # Given a delivery with one Standard Webhooks header malformed
    delivery = standard_delivery(headers={header: value})

    # When it is verified
    # Then the message says precisely what is wrong (a 401, never a crash)
    assert refused(delivery) == message


def test_a_signature_header_sent_twice_is_refused() -> None:
    # Given the genuine signature header twice, which API Gateway joins with a comma
    genuine = library_signature()
    delivery = standard_delivery(headers={"webhook-signature": f"{genuine},{genuine}"})

    # When it is verified
    # Then it is refused: the joined value is not one base64 digest
    assert refused(delivery) == "webhook-signature v1 entry is not base64"


def test_a_body_that_is_not_utf8_is_refused_not_crashed() -> None:
    # Given a delivery whose body is not UTF-8 (the library signs text)
    delivery = standard_delivery(
        b'{"event": "\xff"}', headers={"webhook-signature": library_signature()}
    )

    # When it is verified
    # Then it is a refusal naming the problem, not an error of the server
    assert refused(delivery) == "webhook-signature cannot be checked: the body is not UTF-8"


# --- the clock -------------------------------------------------------------------------------


def _signed_at(t: int) -> WebhookDelivery:
    return standard_delivery(
        headers={"webhook-timestamp": str(t), "webhook-signature": library_signature(t=t)}
    )


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300], ids=lambda s: f"{s:+d}s")
def test_a_timestamp_within_the_tolerance_is_accepted(offset: int) -> None:
    # Given a genuine delivery signed up to 300 s before or after its receipt
    # When it is verified
    # Then it passes
    assert generic_adapter.verify(_signed_at(NOW + offset), [SECRET]) is None


def test_a_stale_timestamp_is_refused_as_a_possible_replay() -> None:
    # Given a genuine delivery signed 301 s before it reached Shipshape
    delivery = _signed_at(NOW - 301)

    # When it is verified
    # Then the refusal says how old it is by Shipshape's clock, and the tolerance
    assert refused(delivery) == (
        f"webhook-timestamp {NOW - 301} (2026-11-20T15:10:39+00:00) is 301 s before "
        "Shipshape's clock (2026-11-20T15:15:40+00:00), more than the 300 s tolerance: "
        "refused as a possible replay"
    )


def test_a_future_timestamp_is_refused_naming_the_senders_clock() -> None:
    # Given a genuine delivery signed an hour after its receipt (a sender clock running fast)
    delivery = _signed_at(NOW + 3600)

    # When it is verified
    # Then the refusal says how far ahead it is
    assert refused(delivery) == (
        f"webhook-timestamp {NOW + 3600} (2026-11-20T16:15:40+00:00) is 3600 s after "
        "Shipshape's clock (2026-11-20T15:15:40+00:00), more than the 300 s tolerance: "
        "is the sender's clock fast?"
    )


def test_the_clock_is_checked_only_after_the_signature() -> None:
    # Given a stale delivery whose signature is also wrong
    delivery = standard_delivery(
        headers={"webhook-timestamp": str(NOW - 3600), "webhook-signature": library_signature()}
    )

    # When it is verified
    # Then only the mismatch is reported: a forger learns nothing about the clock
    assert refused(delivery) == MISMATCH


def test_the_tolerance_is_set_by_the_constructor() -> None:
    # Given an adapter with a 30 s tolerance and a delivery signed 31 s before receipt
    strict = GenericAdapter(tolerance=timedelta(seconds=30))

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        strict.verify(_signed_at(NOW - 31), [SECRET])

    # Then the message states that tolerance
    assert "is 31 s before Shipshape's clock" in str(caught.value)
    assert "more than the 30 s tolerance" in str(caught.value)


# --- both schemes at once, and normalization --------------------------------------------------


def test_a_sender_sending_both_schemes_is_verified_on_both() -> None:
    # Given a sender moving over that signs with both schemes
    both = standard_delivery(headers={"Shipshape-Signature": sign_generic(BODY, SECRET, NOW)})
    bad_shipshape = standard_delivery(headers={"Shipshape-Signature": f"t={NOW},v1={'ab' * 32}"})
    bad_standard = standard_delivery(
        headers={
            "Shipshape-Signature": sign_generic(BODY, SECRET, NOW),
            "webhook-signature": library_signature(secret=b"someone else"),
        }
    )

    # When they are verified
    # Then both good passes; one bad is refused naming the scheme that failed
    assert generic_adapter.verify(both, [SECRET]) is None
    assert refused(bad_shipshape) == "Shipshape-Signature header does not match the body"
    assert refused(bad_standard) == MISMATCH


def test_a_standard_webhooks_delivery_normalizes_like_any_generic_one() -> None:
    # Given a verified Standard Webhooks delivery
    delivery = standard_delivery()
    generic_adapter.verify(delivery, [SECRET])

    # When it is normalized
    order = generic_adapter.normalize(delivery)

    # Then it is the order its body carries, from the store Shipshape-Source names
    assert (order.store, order.storefront_order_id, order.version) == (
        SENDER,
        "KK-20261120-0042",
        3,
    )
