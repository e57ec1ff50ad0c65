"""Typed domain errors.

Class names are part of the public contract: the state machine's Retry and Catch match them
by name (the Lambda ``errorType``), and the HTTP resolvers map them to status codes once.
"""

from __future__ import annotations


class ShipshapeError(Exception):
    """Base of every error Shipshape raises on purpose."""


# --- client mistakes (mapped to 4xx at the HTTP edge) -----------------------------------


class ClientRequestError(ShipshapeError):
    """The request is wrong; the caller can fix it. ``status`` is the HTTP answer."""

    status = 400


class SignatureInvalid(ClientRequestError):
    """The delivery is not signed with the client's secret (missing, malformed or wrong)."""

    status = 401


class Unauthorized(ClientRequestError):
    """The caller did not present valid credentials."""

    status = 401


class Forbidden(ClientRequestError):
    """The caller is known and serves the client, but their role may not do this (a viewer
    acting, an operator doing a lead's part, an author approving their own change).

    A refusal for a client the caller does not serve is ``NotAmongYours``, not this. A
    ``client_id`` here marks a scope refusal still raised as Forbidden: the ops API answers
    it as ``NotAmongYours`` would (404), recording it only if the client exists."""

    status = 403

    def __init__(self, message: str, *, client_id: str | None = None) -> None:
        super().__init__(message)
        self.client_id = client_id


class NotFound(ClientRequestError):
    status = 404


class NotAmongYours(ClientRequestError):
    """Not found among the caller's clients: no such client or order, or another client's.

    Both get this one answer, 404 with the same words (``no order X among your clients``),
    so no refusal tells which ids exist: order ids are a hash of public facts, and a 403 for
    "exists, not yours" next to a 404 for "no such thing" would confirm another client's
    orders and client ids. ``client_id`` names the client whose data was asked for, so the
    refusal is still recorded for that client's access review; the ops API records it only
    if that client exists (a made-up id writes nothing), and it is None when there is
    nothing to record."""

    status = 404

    def __init__(self, message: str, *, client_id: str | None = None) -> None:
        super().__init__(message)
        self.client_id = client_id


class UnknownClient(NotAmongYours):
    """No client with this id is configured (or, to an operator, none among theirs)."""


class UnsupportedPlatform(ClientRequestError):
    """The platform in the path is not one Shipshape has an adapter for, or not the client's."""

    status = 404


class OrderNotFound(NotAmongYours):
    """No order with this id (or, to an operator, none among their clients')."""


class ExceptionNotFound(NotAmongYours):
    """No such exception among the operator's clients (none at all, or another client's:
    one answer for both)."""


class PayloadInvalid(ClientRequestError):
    """The body is not a well-formed order for the platform and topic it claims to be."""

    status = 422


class UnsupportedTopic(ClientRequestError):
    """The webhook topic is not one Shipshape subscribes to."""

    status = 422


class NotAwaitingEvent(ClientRequestError):
    """A warehouse event arrived for an order that is not waiting for it."""

    status = 409


# --- workflow outcomes (matched by name in the state machine) ---------------------------


class TransientDependencyError(ShipshapeError):
    """A dependency failed in a way worth retrying (throttling, 5xx, timeouts)."""


class ConcurrentUpdate(TransientDependencyError):
    """Another writer changed the order between our read and our write; read again."""


class OrderCancelled(ShipshapeError):
    """The storefront cancelled the order; the workflow stops without shipping."""


class StaleVersion(ShipshapeError):
    """An older version of an order arrived after a newer one; nothing was changed."""


class AddressInvalid(ShipshapeError):
    """The shipping address cannot be shipped to."""


class CatalogMismatch(ShipshapeError):
    """A line to ship has no SKU, or a SKU the client's SKU master does not know."""


class InventoryShort(ShipshapeError):
    """Not enough stock to reserve every line."""


class PaymentMismatch(ShipshapeError):
    """The storefront no longer shows the order as paid (refunded, voided, on hold)."""


class CarrierRejected(ShipshapeError):
    """The carrier refused the shipment or the label; ``reason`` is the carrier's typed code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class QaFailed(ShipshapeError):
    """A QA gate failed; the result (with remediation) is stored on the order."""


class StorefrontUnavailable(TransientDependencyError):
    """The storefront's API did not answer usefully (timeout, 5xx, throttled past the retries):
    worth trying again later. The message names the platform, store and call, never a token."""


class StorefrontRefused(ShipshapeError):
    """The storefront's API refused the request for a reason retrying will not fix (bad
    credentials, an order it does not know, a fulfillment it will not accept). ``status`` is
    the HTTP status, ``code`` the platform's own error code or field, when it gave one."""

    def __init__(self, platform: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{platform} refused ({status} {code}): {message}")
        self.platform = platform
        self.status = status
        self.code = code


class ConfigurationError(ShipshapeError):
    """Client configuration or settings are invalid; the message names the field."""
