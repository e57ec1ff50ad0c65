"""The command line a user runs: `shipshape serve` and `shipshape demo`, as real processes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SHIPSHAPE = [sys.executable, "-m", "shipshape_local.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_curl_like_clients_and_stops_cleanly() -> None:
    # Given `shipshape serve` running as its own process
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [*SHIPSHAPE, "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        status = None
        deadline = time.monotonic() + 60
        while status is None and time.monotonic() < deadline:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/orders/ord_aaaaaaaaaaaaaaaaaaaa",
                headers={"Authorization": "Bearer dev-token-lead"},
            )
            try:
                urllib.request.urlopen(request, timeout=2)  # noqa: S310
            except urllib.error.HTTPError as exc:
                status, body = exc.code, json.loads(exc.read())
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.2)

        # When it is asked to stop
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()

    # Then it answered an operator's read over HTTP and exited cleanly
    assert status == 404 and body["error"] == "OrderNotFound"
    assert server.returncode == 0, output
    assert f"serving on http://127.0.0.1:{port}" in output


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
