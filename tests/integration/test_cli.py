"""The command line a user runs: `shipshape serve`, `login`, `token` and `demo`, as real
processes (and `login` in-process, for the first sign-in's new-password challenge)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shipshape_local.issuer import dev_operators
from shipshape_local.runtime import EmbeddedRuntime

SHIPSHAPE = [sys.executable, "-m", "shipshape_local.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_an_operator_signed_in_with_login_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    # Given `shipshape serve` running as its own process (its local issuer signs its tokens)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}  # the session file goes here
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [*SHIPSHAPE, "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        signed_in = None
        deadline = time.monotonic() + 60
        while signed_in is None and time.monotonic() < deadline:
            # When the lead signs in with `shipshape login` (the password on stdin)
            attempt = subprocess.run(  # noqa: S603 - our own CLI
                [*SHIPSHAPE, "login", "--url", url, "--username", "olivia.lead"],
                input=dev_operators()["olivia.lead"].password + "\n",
                capture_output=True, text=True, env=env, timeout=60, check=False,
            )  # fmt: skip
            if attempt.returncode == 0:
                signed_in = attempt
            else:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.5)
        assert signed_in is not None, "shipshape login never succeeded"
        # and a curl-like client calls the ops API with `shipshape token`'s ID token
        token = subprocess.run(  # noqa: S603 - our own CLI
            [*SHIPSHAPE, "token"], capture_output=True, text=True, env=env, timeout=60,
            check=True,
        ).stdout.strip()  # fmt: skip
        bearer = {"Authorization": f"Bearer {token}"}
        request = urllib.request.Request(f"{url}/orders/ord_aaaaaaaaaaaaaaaaaaaa", headers=bearer)  # noqa: S310
        try:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310
        except urllib.error.HTTPError as exc:
            status, body = exc.code, json.loads(exc.read())
        me = urllib.request.Request(f"{url}/me", headers=bearer)  # noqa: S310
        with urllib.request.urlopen(me, timeout=10) as answer:  # noqa: S310
            profile = json.loads(answer.read())

        # and then it is asked to stop
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()

    # Then the login was kept for its owner only, the API knew the lead by their user name,
    # answered the read over HTTP, and the server exited cleanly
    session = tmp_path / "shipshape" / "session.json"
    assert session.stat().st_mode & 0o777 == 0o600
    assert "Signed in as olivia.lead" in signed_in.stderr
    assert profile["subject"] == "olivia.lead"
    assert status == 404 and body["error"] == "OrderNotFound"
    assert server.returncode == 0, output
    assert f"serving on {url}" in output


def test_login_asks_a_new_operator_for_a_new_password_first(
    runtime: EmbeddedRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the embedded stack's front door and an operator created with a temporary password
    from shipshape_local.cli import main
    from shipshape_local.frontdoor import FrontDoorServer

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    temporary = dev_operators()["nora.new"].password
    door = FrontDoorServer(runtime).start()
    try:
        # When they log in, first choosing a password the policy refuses, then a good one
        def login(*lines: str) -> int:
            monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{x}\n" for x in lines)))
            args = ["login", "--url", door.url, "--username", "nora.new"]
            return main(args)

        weak = login(temporary, "short", "short")
        chosen = login(temporary, "Nora-chose-this-1", "Nora-chose-this-1")
        again = login("Nora-chose-this-1")
        token = tmp_path / "shipshape" / "session.json"
        saved = json.loads(token.read_text())
    finally:
        door.stop()

    # Then the weak password was refused, the good one signed them in, and it is their
    # password from then on; the API knows them by their user name
    assert (weak, chosen, again) == (1, 0, 0)
    me = runtime.http("GET", "/me", headers={"Authorization": f"Bearer {saved['id_token']}"})
    assert (me.status, me.json()["subject"]) == (200, "nora.new")


def test_demo_ships_every_paid_order_and_prints_the_audit_trail() -> None:
    # Given / When the README's main job runs as a user would run it
    done = subprocess.run(  # noqa: S603 - our own CLI
        [*SHIPSHAPE, "demo"], capture_output=True, text=True, timeout=180,
        cwd=Path(__file__).resolve().parents[2], check=False,
    )  # fmt: skip

    # Then it succeeds, four orders ship, the unpaid one is cancelled, and a trail is printed
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Outcomes: CANCELLED 1, SHIPPED 6" in done.stdout
    assert "Audit trail of" in done.stdout
    assert "customer_notified" in done.stdout
    assert "Traceback" not in done.stderr


def test_token_renews_an_ending_session_with_the_refresh_token(
    runtime: EmbeddedRuntime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a lead signed in with `shipshape login`, whose ID token ends within five minutes
    from shipshape_local.cli import main
    from shipshape_local.frontdoor import FrontDoorServer

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("SHIPSHAPE_TOKEN", raising=False)
    door = FrontDoorServer(runtime).start()
    try:
        password = dev_operators()["hana.lead"].password
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{password}\n"))
        assert main(["login", "--url", door.url, "--username", "hana.lead"]) == 0
        path = tmp_path / "shipshape" / "session.json"
        ending = {**json.loads(path.read_text()), "expires_at": time.time() + 60}
        path.write_text(json.dumps(ending))

        # When `shipshape token` is asked for a token, then asked again
        def token() -> tuple[int, str]:
            # Only around the command: the runtime's log handlers go back to sys.stdout when
            # it stops, which must not be a capture this test closes.
            with contextlib.redirect_stdout(io.StringIO()) as out:
                status = main(["token"])
            return status, out.getvalue().strip()

        renewed = token()
        kept = token()
    finally:
        door.stop()

    # Then the first renewed it (a new ID token, the same refresh token), the second reused
    # it, and the API takes it for the lead
    saved = json.loads(path.read_text())
    assert renewed == (0, saved["id_token"]) and kept == renewed
    assert saved["id_token"] != ending["id_token"]
    assert saved["refresh_token"] == ending["refresh_token"]
    me = runtime.http("GET", "/me", headers={"Authorization": f"Bearer {renewed[1]}"})
    assert (me.status, me.json()["subject"]) == (200, "hana.lead")
