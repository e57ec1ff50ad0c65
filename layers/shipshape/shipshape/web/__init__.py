"""The operators' dashboard: a static page and its vendored assets, served by the ops API.

The page holds no data of its own; it calls the ops API with the operator's token. Files are
read on first request (nothing at import) and kept for the life of the execution environment.
The page names each asset with a content hash (``?v=``), so an asset can be cached for good
while a deployment still reaches every browser at once: the page itself is never cached.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shipshape.errors import ClientRequestError

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated


class AssetNotFound(ClientRequestError):
    """The dashboard has no asset of that name."""

    status = 404


_JS = "text/javascript; charset=utf-8"

# The only files served: the name in the URL -> (file under static/, media type).
ASSETS: dict[str, tuple[str, str]] = {
    "app.js": ("app.js", _JS),
    "app.css": ("app.css", "text/css; charset=utf-8"),
    "logo.svg": ("logo.svg", "image/svg+xml; charset=utf-8"),
    "chart.umd.min.js": ("vendor/chart.umd.min.js", _JS),
}

# Everything from this origin, nothing inline: no inline script or style, no frames, no
# plugins. Tokens in sessionStorage are only as safe as the page's script is trusted.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # HTTPS only, for a year, here and on any host under this one: the operator's tokens
    # must never travel in clear, not even on a typed http:// link.
    # Browsers ignore it over plain HTTP, so `shipshape serve` on 127.0.0.1 is unaffected.
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
_PAGE_CACHE = "no-cache"  # always revalidated: it names the current assets
_ASSET_CACHE_VERSIONED = "public, max-age=31536000, immutable"
_ASSET_CACHE_UNVERSIONED = "public, max-age=300"
_ASSET_REFERENCE = re.compile(r'"dashboard/assets/([A-Za-z0-9._-]+)"')


@dataclass(frozen=True)
class StaticFile:
    body: str
    media_type: str
    version: str  # the first 16 hex digits of the body's SHA-256


def _read(relative: str) -> str:
    return files(__name__).joinpath("static", *relative.split("/")).read_text(encoding="utf-8")


@cache
def asset(name: str) -> StaticFile:
    """One whitelisted asset, read once."""
    if name not in ASSETS:
        raise AssetNotFound(f"the dashboard has no asset {name!r}")
    relative, media_type = ASSETS[name]
    body = _read(relative)
    version = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    return StaticFile(body=body, media_type=media_type, version=version)


@cache
def page() -> str:
    """index.html with each asset reference pinned to the asset's content hash."""

    def pinned(match: re.Match[str]) -> str:
        name = match.group(1)
        return f'"dashboard/assets/{name}?v={asset(name).version}"'

    return _ASSET_REFERENCE.sub(pinned, _read("index.html"))


# The page's sign-in settings, read by its script: the user pool's domain (empty: this
# origin, as the embedded runtime serves it) and the app client. Not secret: a public client.
_AUTH_PLACEHOLDER = '<meta name="shipshape-auth">'


def _auth_settings() -> tuple[str, str]:
    domain = os.environ.get("SHIPSHAPE_AUTH_DOMAIN", "").rstrip("/")
    return domain, os.environ.get("SHIPSHAPE_AUTH_CLIENT_ID", "")


def content_security_policy(auth_domain: str = "") -> str:
    """The page's policy: its own origin only, and the user pool's domain for the token
    calls (sign-in and sign-out are navigations, which ``connect-src`` does not govern)."""
    if not auth_domain:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'", f"connect-src 'self' {auth_domain}", 1
    )


@router.get("/dashboard", compress=True)
def handle_get_dashboard() -> Response[str]:
    domain, client_id = _auth_settings()
    settings = (
        f'<meta name="shipshape-auth" data-domain="{html.escape(domain)}" '
        f'data-client-id="{html.escape(client_id)}">'
    )
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=page().replace(_AUTH_PLACEHOLDER, settings, 1),
        headers={
            **_SECURITY_HEADERS,
            "Content-Security-Policy": content_security_policy(domain),
            "Cache-Control": _PAGE_CACHE,
        },
    )


@router.get("/dashboard/assets/<name>", compress=True)
def handle_get_dashboard_asset(
    name: str, v: Annotated[str | None, Query(max_length=64)] = None
) -> Response[str]:
    found = asset(name)
    cache_control = _ASSET_CACHE_VERSIONED if v == found.version else _ASSET_CACHE_UNVERSIONED
    return Response(
        status_code=200,
        content_type=found.media_type,
        body=found.body,
        headers={**_SECURITY_HEADERS, "Cache-Control": cache_control},
    )
