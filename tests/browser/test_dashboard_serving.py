"""The dashboard as the ops API serves it, through API Gateway's routes (no browser needed):
public, strict about what the page may load and run, and nothing but its whitelisted files."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shipshape_local.issuer import CLIENT_ID
from shipshape_local.runtime import EmbeddedRuntime

# The embedded handlers publish no business metric on most calls; on Lambda that is a log line.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

STATIC = Path(__file__).resolve().parents[2] / "layers/shipshape/shipshape/web/static"
ASSET = re.compile(r'"dashboard/assets/([A-Za-z0-9._-]+)\?v=([0-9a-f]{16})"')
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}


@pytest.fixture(scope="module")
def runtime() -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(seed=None) as rt:
        yield rt


class _Inline(HTMLParser):
    """Collects what a strict Content-Security-Policy would refuse to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.found.append("an inline <script>")
        if tag == "style":
            self.found.append("a <style> element")
        self.found += [f"{name}= on <{tag}>" for name in names if name.startswith("on")]
        self.found += ["a style attribute" for name in names if name == "style"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("script text")


def test_the_page_is_public_and_runs_only_its_own_files(runtime: EmbeddedRuntime) -> None:
    # Given no token at all (the page itself is public; its API calls carry the token)
    # When a browser asks for the dashboard
    answer = runtime.http("GET", "/dashboard")

    # Then it gets the page as HTML, never cached, under a policy that allows only files of
    # its own origin and no inline code, with sniffing off; and the page has no inline code
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["x-content-type-options"] == "nosniff"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in answer.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in answer.headers["content-security-policy"]
    parser = _Inline()
    parser.feed(answer.body.decode("utf-8"))
    assert parser.found == []
    assert b"://" not in answer.body.replace(b"http://www.w3.org/2000/svg", b"")


def _auth_meta(body: bytes) -> dict[str, str]:
    found = re.search(
        rb'<meta name="shipshape-auth" data-domain="([^"]*)" data-client-id="([^"]*)">', body
    )
    assert found, "the page carries no sign-in settings"
    return {"domain": found[1].decode(), "client_id": found[2].decode()}


def test_the_page_is_told_where_to_sign_in_and_may_call_only_that_domain_besides_its_own(
    runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the embedded stack (its user pool on the page's own origin), then a deployed one
    local = runtime.http("GET", "/dashboard")
    domain = "https://shipshape-123456789012-1f2e3d4c.auth.us-east-1.amazoncognito.com"
    # (the operators' function's variables as the deployed stack resolves them)
    monkeypatch.setitem(
        runtime.stack.environments.overrides,
        runtime.stack.function_names["OpsFunction"],
        {"SHIPSHAPE_AUTH_DOMAIN": domain, "SHIPSHAPE_AUTH_CLIENT_ID": "4vq1example0client0id0abc"},
    )

    # When a browser asks for the dashboard of the deployed one
    deployed = runtime.http("GET", "/dashboard")

    # Then each page names its app client and domain (none: this origin), and only the
    # deployed page's policy lets it call that domain (the token and revoke calls)
    assert _auth_meta(local.body) == {"domain": "", "client_id": CLIENT_ID}
    assert _auth_meta(deployed.body) == {"domain": domain, "client_id": "4vq1example0client0id0abc"}
    policies = [
        dict(d.strip().split(" ", 1) for d in answer.headers["content-security-policy"].split(";"))
        for answer in (local, deployed)
    ]
    assert [p["connect-src"] for p in policies] == ["'self'", f"'self' {domain}"]
    assert all(p["default-src"] == "'self'" and p["script-src"] == "'self'" for p in policies)


def test_every_asset_the_page_names_is_served_pinned_to_its_content(
    runtime: EmbeddedRuntime,
) -> None:
    # Given the page and the assets it names
    page = runtime.http("GET", "/dashboard").body.decode("utf-8")
    named = ASSET.findall(page)
    assert {name for name, _ in named} == {"app.js", "app.css", "logo.svg", "chart.umd.min.js"}

    for name, version in named:
        # When each is fetched with the version the page gave it, and without
        pinned = runtime.http("GET", f"/dashboard/assets/{name}?v={version}")
        bare = runtime.http("GET", f"/dashboard/assets/{name}")

        # Then it has its media type, and only the pinned URL is cached for good
        assert pinned.status == 200, (name, pinned.body)
        assert pinned.headers["content-type"] == MEDIA_TYPES[Path(name).suffix]
        assert pinned.headers["x-content-type-options"] == "nosniff"
        assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert hashlib.sha256(pinned.body).hexdigest()[:16] == version
        assert bare.headers["cache-control"] == "public, max-age=300"
        assert bare.body == pinned.body


def test_assets_are_compressed_for_browsers_that_accept_gzip(runtime: EmbeddedRuntime) -> None:
    # Given a browser that accepts gzip
    # When it fetches the chart library (the largest asset)
    answer = runtime.http(
        "GET", "/dashboard/assets/chart.umd.min.js", headers={"Accept-Encoding": "gzip, br"}
    )

    # Then the body is gzip of the vendored file, byte for byte
    assert answer.status == 200
    assert answer.headers["content-encoding"] == "gzip"
    vendored = (STATIC / "vendor" / "chart.umd.min.js").read_bytes()
    assert gzip.decompress(answer.body) == vendored
    assert len(answer.body) < len(vendored) / 2


@pytest.mark.parametrize("name", ["nope.js", "index.html", "__init__.py", "vendor", "LICENSE.md"])
def test_anything_off_the_whitelist_is_not_found(runtime: EmbeddedRuntime, name: str) -> None:
    # Given a name that is not one of the dashboard's assets (even a file that exists nearby)
    # When it is asked for
    answer = runtime.http("GET", f"/dashboard/assets/{name}")

    # Then the answer is the API's usual 404 error body
    assert answer.status == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "error": "AssetNotFound",
        "message": f"the dashboard has no asset {name!r}",
    }


def test_the_vendored_chart_library_is_the_release_its_readme_records() -> None:
    # Given the vendored Chart.js and the README that records it
    readme = (STATIC / "vendor" / "README.md").read_text()
    library = (STATIC / "vendor" / "chart.umd.min.js").read_bytes()

    # Then the file is the recorded 4.x release, unmodified, with its licence next to it
    recorded = re.search(r"`([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256(library).hexdigest() == recorded.group(1)
    version = re.search(rb"Chart\.js v(4\.\d+\.\d+)", library)
    assert version is not None and version.group(1).decode() in readme
    assert "MIT License" in (STATIC / "vendor" / "LICENSE.md").read_text()
