"""The HTTP transport to the storefronts' own APIs, on urllib3 (in the Lambda runtime already,
through botocore: no dependency of its own, no import cost for the functions that never call a
storefront).

``StorefrontHttp`` holds one connection pool per process, explicit connect and read timeouts,
and urllib3's ``Retry`` for what it does well: connect errors, 429 (and 5xx on calls that may
be repeated) with ``Retry-After`` honoured, exponential backoff between the other attempts. A
call's outcome maps onto the port's errors in one place (``_outcome``):

* 2xx: the answer; 3xx: ``StorefrontRefused`` (redirects are never followed: the credential
  would go with them);
* 429 past the retries, 5xx, timeouts, broken connections: ``StorefrontUnavailable``;
* any other 4xx: ``StorefrontRefused`` with the platform's own error code when the body has one.

Messages name the platform, the store and the call (method and path), never a credential, a
header or an order's content; whatever text a platform returns is cut short and scrubbed of
the credential before it goes into one.

Writes (``repeatable=False``) are never repeated here after the request may have reached the
platform (a timeout, a broken connection, a 5xx): the caller looks again first, so a write whose
answer was lost is found, not made twice. They are repeated on connect errors (the request
never left) and on 429 (throttled requests are not processed).

A call can be held to the invocation it is made in: inside ``within(context)`` a call is not
started when less than
``MIN_CALL_SECONDS`` remain before the invocation's deadline less ``MARGIN_SECONDS``, each
attempt's timeouts are cut to what remains, and a retry (or a platform's Retry-After) that
would not fit is not made. The call is then ``StorefrontUnavailable``, which each caller already
turns into a retry (the queue's redelivery, the next reconciliation pass, the platform's
redelivery of a webhook), rather than Lambda cutting the invocation off mid-call. Every
handler that calls a storefront makes its calls inside ``within(context)``.

The transport's timeouts and retries (``CONNECT_TIMEOUT_SECONDS``, ``READ_TIMEOUT_SECONDS``,
``RETRIES``, ``BACKOFF_FACTOR``) are the same in every function and sized on the shortest one
that calls a storefront (ingest): one call with all its attempts, its backoff and
``MARGIN_SECONDS`` fits in each such function's Timeout even before ``within`` cuts it
(tests/unit/test_template_timeouts.py holds template.yaml to that sum). A storefront slower
than that is not waited for: the call is retried later, by whatever retries its caller.

Where a store's API lives: ``StoreConfig.api_url`` when set, else the platform's usual place.
``SHIPSHAPE_STOREFRONT_API_URL`` (the embedded runtime and the tests point it at the fake
storefronts of ``shipshape_local.fakestore``) replaces every store's base with
``{that}/{platform}/{quoted store}``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, Self
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, InvalidHeader, LocationValueError
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry, Timeout

from shipshape.config import StoreConfig
from shipshape.errors import StorefrontRefused, StorefrontUnavailable
from shipshape.models import Platform

API_URL_ENV = "SHIPSHAPE_STOREFRONT_API_URL"
USER_AGENT = "Shipshape/1 (fulfilment; storefront sync)"
# Shopify's answers to throttled REST calls carry a fractional Retry-After ("2.0").
# BigCommerce's carry the wait in milliseconds in their own header instead.
BIGCOMMERCE_RESET_HEADER = "X-Rate-Limit-Time-Reset-Ms"
_MESSAGE_LIMIT = 200

Sleep = Callable[[float], None]
Params = Mapping[str, str | int]

# What an invocation keeps for itself after its last storefront call (recording the outcome,
# answering), and the least time a call is started with.
MARGIN_SECONDS = 1.0
MIN_CALL_SECONDS = 1.0
# One call: a connection within 1.5 s (the platforms' APIs sit behind CDNs near every AWS
# region), an answer within 3 s of asking (between bytes), tried twice at most with no wait
# before the second try (urllib3 waits BACKOFF_FACTOR * 2**(n-1) before the n-th retry
# after the first). (1.5 + 3) * 2 + 1 s of margin = the ingest function's 10 s.
CONNECT_TIMEOUT_SECONDS = 1.5
READ_TIMEOUT_SECONDS = 3.0
RETRIES = 1
BACKOFF_FACTOR = 0.5
_DEADLINE: ContextVar[float | None] = ContextVar("storefront_deadline", default=None)


class RemainingTime(Protocol):
    """What the transport reads of Lambda's context object."""

    def get_remaining_time_in_millis(self) -> int: ...


@contextmanager
def within(context: RemainingTime, *, margin: float = MARGIN_SECONDS) -> Iterator[None]:
    """Storefront calls made inside fit in the invocation's remaining time, less ``margin``."""
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - margin
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left for storefront calls in this invocation (None: outside ``within``)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


class _OutOfTime(Exception):
    """A retry that would not end before the invocation's deadline; left to a later one."""


class _WaitTooLong(Exception):
    """The platform asked for a longer wait than a call may spend; retried later instead."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"asked to wait {seconds:.0f} s")
        self.seconds = seconds


def _retry_class(sleep: Sleep, max_wait: float) -> type[Retry]:
    """urllib3's Retry, waiting through ``sleep``, reading the platforms' throttle headers, and
    retrying only on the statuses it is given (urllib3 would also retry any 503 that carries a
    Retry-After, which a write must not: it may have been processed)."""

    class StorefrontRetry(Retry):
        # The longest one attempt may take (its connect and read timeouts together); a retry
        # is made only if it still fits in the invocation after the wait before it.
        attempt_seconds: float = 0.0

        def new(self, **kw: Any) -> Self:
            retry = super().new(**kw)
            retry.attempt_seconds = self.attempt_seconds
            return retry

        def parse_retry_after(self, retry_after: str) -> float:
            try:
                seconds = float(retry_after)
            except ValueError:
                return super().parse_retry_after(retry_after)
            if not math.isfinite(seconds):
                raise InvalidHeader(f"Invalid Retry-After header: {retry_after}")
            return max(seconds, 0.0)

        def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
            try:
                seconds = super().get_retry_after(response)
            except InvalidHeader:
                seconds = None  # a malformed header: fall back to the backoff
            reset_ms = response.headers.get(BIGCOMMERCE_RESET_HEADER)
            if seconds is None and reset_ms and reset_ms.strip().isdigit():
                seconds = int(reset_ms) / 1000
            return seconds

        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            if status_code not in self.status_forcelist:
                return False
            return super().is_retry(method, status_code, has_retry_after)

        def sleep(self, response: BaseHTTPResponse | None = None) -> None:
            wait = None
            if response is not None and self.respect_retry_after_header:
                wait = self.get_retry_after(response)
            if not wait:
                wait = self.get_backoff_time()
            if wait > max_wait:
                raise _WaitTooLong(wait)
            left = time_left()
            if left is not None and wait + self.attempt_seconds > left:
                raise _OutOfTime(f"{left:.1f} s left in this invocation, too little to try again")
            if wait > 0:
                sleep(wait)

    return StorefrontRetry


@dataclass(frozen=True)
class ApiResponse:
    """A 2xx answer: status, headers (case-insensitive) and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    platform: str
    store: str
    call: str

    def json(self) -> Any:
        """The body as JSON; a 2xx body that is not JSON (a proxy's or a maintenance page)
        is ``StorefrontUnavailable``."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise StorefrontUnavailable(
                f"{self.platform} store {self.store}: {self.call} answered {self.status} with "
                "a body that is not JSON"
            ) from None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class StorefrontHttp:
    """The transport: build once per process and share (its pool keeps connections open).

    ``sleep`` is every wait it makes (backoff, Retry-After, and its callers' waits through
    ``wait``); real by default, so a platform's Retry-After is really waited out. A wait
    longer than ``max_wait`` seconds is not made: the call is ``StorefrontUnavailable`` and is
    worth trying again later."""

    def __init__(
        self,
        *,
        api_url_override: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        retries: int = RETRIES,
        backoff_factor: float = BACKOFF_FACTOR,
        max_wait: float = 20.0,
        sleep: Sleep = time.sleep,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        override = api_url_override or os.environ.get(API_URL_ENV) or None
        self.api_url_override = override.rstrip("/") if override else None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.timeout = Timeout(connect=connect_timeout, read=read_timeout)
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.max_wait = max_wait
        self._sleep = sleep
        self._retry = _retry_class(sleep, max_wait)
        self._pool = pool or urllib3.PoolManager(num_pools=20, maxsize=4)

    def wait(self, seconds: float) -> None:
        """Wait as the transport does (the injected ``sleep``), at most ``max_wait``."""
        if seconds > 0:
            self._sleep(min(seconds, self.max_wait))

    def base_url(self, store: StoreConfig) -> str:
        """Where the store's API lives: the override, ``store.api_url``, or the platform's
        usual place (Shopify: the shop domain; WooCommerce: the site; BigCommerce: the API
        host and the store hash)."""
        platform = Platform(store.platform)
        if self.api_url_override:
            return f"{self.api_url_override}/{platform.value}/{quote(store.store, safe='')}"
        if store.api_url:
            return store.api_url.rstrip("/")
        if platform is Platform.SHOPIFY:
            return f"https://{store.store.strip().rstrip('/')}"
        if platform is Platform.WOOCOMMERCE:
            return store.store.strip().rstrip("/")
        if platform is Platform.BIGCOMMERCE:
            return f"https://api.bigcommerce.com/stores/{quote(store.store.strip(), safe='')}"
        raise StorefrontRefused(
            platform.value, 0, "unsupported", f"store {store.store} has no API Shipshape knows"
        )

    def session(
        self, store: StoreConfig, headers: Mapping[str, str], secrets: Sequence[str]
    ) -> StoreSession:
        """Calls to one store, with its authentication ``headers``; ``secrets`` are the texts no
        message may carry (the credential and its parts). Only over HTTPS (the override, for
        the local fake storefronts, excepted): the credential travels in a header."""
        base = self.base_url(store)
        if not self.api_url_override and not base.lower().startswith("https://"):
            raise StorefrontRefused(
                Platform(store.platform).value,
                0,
                "not_configured",
                f"store {store.store}: its API URL is not https; Shipshape sends no credential "
                "over plain HTTP",
            )
        return StoreSession(self, store, base, headers, secrets)

    def _retries(self, repeatable: bool, attempt_seconds: float) -> Retry:
        statuses = {429, 500, 502, 503, 504} if repeatable else {429}
        retry = self._retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries if repeatable else 0,
            status=self.retries,
            other=0,
            redirect=False,
            raise_on_redirect=False,
            raise_on_status=False,
            allowed_methods=None,  # which calls may repeat is decided here, not by method
            status_forcelist=statuses,
            backoff_factor=self.backoff_factor,
            respect_retry_after_header=True,
        )
        retry.attempt_seconds = attempt_seconds  # type: ignore[attr-defined]
        return retry

    def _budget(self, where: str) -> tuple[Timeout, float]:
        """This call's timeouts, as configured, cut to the invocation's remaining time; and
        the longest one attempt may then take."""
        left = time_left()
        if left is None:
            return self.timeout, self.connect_timeout + self.read_timeout
        if left < MIN_CALL_SECONDS:
            raise StorefrontUnavailable(
                f"{where} not made: {max(left, 0.0):.1f} s left in this invocation, too little "
                "for a call; it is tried again later"
            )
        connect, read = min(self.connect_timeout, left), min(self.read_timeout, left)
        return Timeout(connect=connect, read=read, total=left), min(connect + read, left)

    def send(
        self,
        session: StoreSession,
        method: str,
        url: str,
        call: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
        repeatable: bool,
    ) -> ApiResponse:
        store = session.store
        platform = Platform(store.platform).value
        where = f"{platform} store {store.store}: {call}"
        timeout, attempt = self._budget(where)
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers=dict(headers),
                retries=self._retries(repeatable, attempt),
                timeout=timeout,
                redirect=False,
                preload_content=True,
            )
        except _WaitTooLong as exc:
            raise StorefrontUnavailable(
                f"{where} throttled: {exc}, longer than a call may wait"
            ) from None
        except _OutOfTime as exc:
            raise StorefrontUnavailable(
                f"{where} not retried: {exc}; it is tried again later"
            ) from None
        except LocationValueError:
            raise StorefrontRefused(
                platform, 0, "not_configured", f"{where}: the store's API URL is not valid"
            ) from None
        except HTTPError as exc:
            # MaxRetryError, timeouts, refused and broken connections. The exception's text
            # names the URL (no credential: those travel in headers) and the low-level cause.
            raise StorefrontUnavailable(f"{where} failed: {_cause(exc)}") from exc
        return _outcome(session, response, where, call)


class StoreSession:
    """Calls to one store's API: paths relative to its base URL, JSON in and out."""

    def __init__(
        self,
        http: StorefrontHttp,
        store: StoreConfig,
        base_url: str,
        headers: Mapping[str, str],
        secrets: Sequence[str],
    ) -> None:
        self.http = http
        self.store = store
        self.base_url = base_url
        self.platform = Platform(store.platform).value
        self._headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **headers}
        self.secrets = tuple(s for s in secrets if s)

    def get(self, path: str, params: Params | None = None) -> ApiResponse:
        """A read: repeated on timeouts, 5xx and 429 within the transport's retries."""
        return self._send("GET", path, params, None, repeatable=True)

    def get_url(self, url: str) -> ApiResponse:
        """A read of an absolute URL the platform gave (a pagination link). It must be under
        the store's own base URL: the credential goes nowhere else."""
        if not url.startswith(self.base_url + "/"):
            raise StorefrontRefused(
                self.platform,
                0,
                "unexpected_link",
                f"store {self.store.store}: a pagination link leads away from the store's API",
            )
        return self._send("GET", url[len(self.base_url) :], None, None, repeatable=True)

    def post(self, path: str, document: Any, *, repeatable: bool) -> ApiResponse:
        return self._send("POST", path, None, document, repeatable=repeatable)

    def put(self, path: str, document: Any, *, repeatable: bool) -> ApiResponse:
        return self._send("PUT", path, None, document, repeatable=repeatable)

    def _send(
        self,
        method: str,
        path: str,
        params: Params | None,
        document: Any,
        *,
        repeatable: bool,
    ) -> ApiResponse:
        url = self.base_url + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        call = f"{method} {urlsplit(path).path}"
        headers = dict(self._headers)
        body = None
        if document is not None:
            body = json.dumps(document, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        return self.http.send(
            self, method, url, call, body=body, headers=headers, repeatable=repeatable
        )


def _outcome(
    session: StoreSession, response: BaseHTTPResponse, where: str, call: str
) -> ApiResponse:
    status = response.status
    body = response.data or b""
    if 200 <= status < 300:
        return ApiResponse(
            status=status,
            headers=response.headers,
            body=body,
            platform=session.platform,
            store=session.store.store,
            call=call,
        )
    if status == 429:
        raise StorefrontUnavailable(f"{where} is still throttled (429) after the retries")
    if status >= 500:
        raise StorefrontUnavailable(f"{where} answered {status}")
    if 300 <= status < 400:
        raise StorefrontRefused(
            session.platform,
            status,
            "redirected",
            f"{where} was redirected; Shipshape does not follow redirects with a credential "
            "(check the store's API URL)",
        )
    code, text = platform_error(session.platform, status, body)
    text = scrub(text, session.secrets)
    raise StorefrontRefused(
        session.platform, status, code, f"{where} refused" + (f": {text}" if text else "")
    )


def platform_error(platform: str, status: int, body: bytes) -> tuple[str, str]:
    """The platform's error code and message in a refusal's body, as far as it says them.

    Shopify REST: ``{"errors": "Not Found"}`` or ``{"errors": {"field": ["message"]}}`` (the
    field is the code). WooCommerce: ``{"code": "woocommerce_rest_...", "message": ...}``.
    BigCommerce v2: ``[{"status": 404, "message": ...}]``; v3: ``{"title": ..., "code": ...}``.
    Without a code in the body, the status's name (``not_found``)."""
    fallback = _status_name(status)
    try:
        document = json.loads(body)
    except ValueError:
        return fallback, ""
    code: object = None
    message: object = None
    if isinstance(document, list) and document and isinstance(document[0], dict):
        document = document[0]
    if isinstance(document, dict):
        if platform == Platform.SHOPIFY.value:
            errors = document.get("errors", document.get("error"))
            if isinstance(errors, dict) and errors:
                code, detail = next(iter(errors.items()))
                message = detail[0] if isinstance(detail, list) and detail else detail
            elif isinstance(errors, list) and errors:
                message = errors[0]
            else:
                message = errors
        else:
            code = document.get("code")
            message = document.get("message") or document.get("title")
    text = " ".join(str(message).split()) if isinstance(message, str | int) else ""
    return (str(code) if isinstance(code, str | int) and str(code) else fallback), text


def scrub(text: str, secrets: Sequence[str]) -> str:
    """A platform's text for a message: short, and never holding a credential."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "*****")
    if len(text) > _MESSAGE_LIMIT:
        text = text[: _MESSAGE_LIMIT - 1] + "…"
    return text


def _status_name(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return f"http_{status}"


def _cause(exc: HTTPError) -> str:
    reason = getattr(exc, "reason", None)
    inner = reason if isinstance(reason, BaseException) else exc
    name = type(inner).__name__
    if "Timeout" in name:
        return "timed out"
    if "NewConnection" in name or "ConnectionRefused" in name:
        return "could not connect"
    if "Protocol" in name or "Disconnected" in name:
        return "the connection broke before an answer"
    if "SSL" in name:
        return "TLS failed"
    return name
