"""`shipshape`: the command line of the embedded runtime."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import signal
import sys
import threading
from datetime import timedelta

from rich.console import Console


def _serve(args: argparse.Namespace) -> int:
    from shipshape_local.frontdoor import FrontDoorServer
    from shipshape_local.runtime import EmbeddedRuntime

    console = Console()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedRuntime() as rt:
        door = FrontDoorServer(rt, host=args.host, port=args.port).start()
        # Streams and queues are delivered as Lambda's pollers would: domain events reach the
        # bus and shipped orders their (fake) storefront while it serves.
        rt.delivery.start()
        # The template's schedules run on their periods, on a clock that may run faster.
        rt.schedules.on_failure = lambda name, failure: console.print(
            f"[red]schedule {name} failed[/] (it runs again next period): "
            f"{failure.strip().splitlines()[-1]}"
        )
        if args.clock_speed != 1:
            rt.sessions_on_wall_clock()  # a token's hour stays an hour of the operator's
        rt.schedules.start(speed=args.clock_speed)
        console.print(f"[bold]Shipshape[/] embedded stack serving on {door.url}")
        pace = "" if args.clock_speed == 1 else f" (the clock runs {args.clock_speed:g}x real time)"
        every = ", ".join(
            f"{s.name} every {_period(s.period)}" for s in rt.schedules.schedules if s.enabled
        )
        console.print(f"Schedules: {every}{pace}", markup=False, highlight=False)
        operators = ", ".join(rt.dev.get("operators", {}))
        for line in (
            "  POST /webhooks/{platform}/{client_id}   storefront webhooks (signed)",
            "  POST /warehouse/{client_id}/events      warehouse events (bearer token)",
            "  GET  /orders/{order_id}[/audit]         ops API (operator token)",
            "  GET  /dashboard                         the operators' dashboard (sign in there)",
            f"Storefront APIs (write-back, reconciliation, BigCommerce): {rt.storefronts.url}"
            if rt.storefronts
            else "",
            f"Development operators (local/shipshape_local/dev-secrets.toml): {operators}",
            f"Sign in: shipshape login --url {door.url} --username olivia.lead",
            f'Try: curl -H "Authorization: Bearer $(shipshape token)" {door.url}/orders/<order_id>',
            "Ctrl-C stops it; everything is in memory and goes with it.",
        ):
            console.print(line, markup=False, highlight=False)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        door.stop()
    return 0


def _period(period: timedelta) -> str:
    minutes = int(period.total_seconds() // 60)
    return "minute" if minutes == 1 else f"{minutes} minutes"


def _clock_speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= speed <= 3600:
        raise argparse.ArgumentTypeError("the clock speed is between 1 (real time) and 3600")
    return speed


def _demo(args: argparse.Namespace) -> int:
    from shipshape_local.demo import run_demo

    return run_demo(timeout=args.timeout)


def _pilot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipshape_local.pilot import ALL_CLIENTS, PROFILES, PilotOptions, run_pilot

    clients = tuple(args.clients.split(",")) if args.clients else ALL_CLIENTS
    unknown = sorted(set(clients) - set(ALL_CLIENTS))
    if unknown or args.faults not in PROFILES or args.orders < 1 or not 1 <= args.days <= 60:
        Console().print(
            "[red]invalid options:[/] clients must be among "
            f"{', '.join(ALL_CLIENTS)}; faults one of {', '.join(PROFILES)}; orders >= 1; "
            "days 1-60"
        )
        return 2
    options = PilotOptions(
        orders=args.orders, clients=clients, seed=args.seed, days=args.days,
        faults=args.faults, out=Path(args.out), strict_emulator=not args.lenient_emulator,
    )  # fmt: skip
    return run_pilot(options)


def _checklist(args: argparse.Namespace) -> int:
    from shipshape_local.checklist import ChecklistUnavailable, fetch, render

    console = Console()
    try:
        checklists = fetch(args.url, args.token or _default_token(), args.client or [])
    except ChecklistUnavailable as exc:
        console.print(f"[red]checklist unavailable:[/] {exc}", highlight=False)
        return 2
    if args.json:
        print(json.dumps(checklists, indent=2))
    else:
        render(console, checklists)
    return 0 if all(c["ok"] for c in checklists) else 1


def _catalog(args: argparse.Namespace) -> int:
    """Runs on the embedded stack (its SKU master, its fake storefronts)."""
    from pathlib import Path

    from shipshape_local.catalog import run_import, run_sync
    from shipshape_local.runtime import EmbeddedRuntime

    console = Console()
    with EmbeddedRuntime():
        if args.catalog == "sync":
            return run_sync(console, client_id=args.client)
        return run_import(console, Path(args.file), client_id=args.client, dry_run=args.dry_run)


def _onboard(args: argparse.Namespace) -> int:
    """Against a stack: its HTTP API (--url) and Secrets Manager on boto3's session; or, with
    --rehearse, against a throwaway embedded stack in this process."""
    from pathlib import Path

    from shipshape_local.onboard import OnboardOptions, onboard, rehearse, session_secrets_client

    if bool(args.url) == bool(args.rehearse):
        Console(stderr=True).print("[red]give --url (a deployed stack) or --rehearse[/]")
        return 2
    options = OnboardOptions(
        client_file=Path(args.client),
        url=args.url or "",
        token=args.token or _default_token(),
        stock_file=Path(args.stock) if args.stock else None,
        storefront_token=args.storefront_token,
        secrets_prefix=args.secrets_prefix,
        storefront_api_url=args.storefront_api_url,
        test_sku=args.test_sku,
        test_address=args.test_address,
        keep_test_order=args.keep_test_order,
        register_webhooks=not args.no_webhooks,
        timeout=args.timeout,
    )
    if args.rehearse:
        return rehearse(options, console=Console())
    result = onboard(
        options,
        console=Console(),
        secrets_client=session_secrets_client(args.region),
        ask=_ask,
    )
    return result.status


def _ask(prompt: str) -> str:
    """A secret from the terminal without echo, or the next line of stdin when it is not a
    terminal (a script or a test piping it in)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


def _login(args: argparse.Namespace) -> int:
    from shipshape_local.issuer import CLIENT_ID
    from shipshape_local.login import LoginFailed, UserPoolUnreachable, login, save

    console = Console(stderr=True)
    if args.url:  # the embedded stack: its local user pool and app client
        endpoint, region = f"{args.url.rstrip('/')}/cognito-idp", args.region
        client_id = args.client_id or CLIENT_ID
    else:
        endpoint = f"https://cognito-idp.{args.region}.amazonaws.com"
        region, client_id = args.region, args.client_id
    if not client_id:
        console.print("[red]--client-id is required[/] (the stack's OperatorsUserPoolClientId)")
        return 2
    username = args.username or input("Username: ")

    def new_password() -> str:
        console.print("Your password is temporary: choose a new one.", highlight=False)
        first, again = _ask("New password: "), _ask("New password again: ")
        if first != again:
            raise LoginFailed("the two new passwords differ")
        return first

    try:
        session = login(
            endpoint=endpoint, region=region, client_id=client_id, username=username,
            password=_ask("Password: "), new_password=new_password,
            mfa_code=lambda: _ask("Code from your authenticator app: ").strip(),
        )  # fmt: skip
    except (LoginFailed, UserPoolUnreachable) as exc:
        console.print(f"[red]sign-in failed:[/] {exc}", highlight=False)
        return 1
    path = save(session)
    console.print(f"Signed in as {session.username}; session kept in {path}", highlight=False)
    return 0


def _token(args: argparse.Namespace) -> int:
    from shipshape_local.login import current_token

    token = current_token()
    if token is None:
        Console(stderr=True).print("[red]not signed in:[/] run `shipshape login` first")
        return 1
    print(token)
    return 0


def _default_token() -> str:
    """$SHIPSHAPE_TOKEN, else the ID token of the `shipshape login` session ("" if none)."""
    from shipshape_local.login import current_token

    return os.environ.get("SHIPSHAPE_TOKEN") or current_token() or ""


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options (the README's commands are parsed by it in the tests)."""
    parser = argparse.ArgumentParser(prog="shipshape", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the embedded stack over HTTP on 127.0.0.1")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument(
        "--clock-speed", type=_clock_speed, default=1.0, metavar="N",
        help="run the stack's clock N times real time (60: an hour of deadlines and "
        "schedules passes in a minute); default 1",
    )  # fmt: skip
    serve.set_defaults(run=_serve)
    demo = sub.add_parser("demo", help="send signed orders through the stack and ship them")
    demo.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for orders")
    demo.set_defaults(run=_demo)
    pilot = sub.add_parser(
        "pilot",
        help="simulate a client's first orders through the stack and report what happened",
        description="Exit status: 0 every order accounted for, 1 some order unaccounted for.",
    )
    pilot.add_argument("--orders", type=int, default=500)
    pilot.add_argument(
        "--clients", default="", help="comma-separated client ids (default: all three)"
    )
    pilot.add_argument("--seed", type=int, default=7, help="same seed, same report")
    pilot.add_argument("--days", type=int, default=14, help="simulated days of arrivals")
    pilot.add_argument("--faults", default="realistic", help="none, realistic or heavy")
    pilot.add_argument("--out", default="pilot-report", help="folder for the report")
    # The benchmark's comparison only: the pilot on an emulator as kind as moto alone.
    pilot.add_argument("--lenient-emulator", action="store_true", help=argparse.SUPPRESS)
    pilot.set_defaults(run=_pilot)
    checklist = sub.add_parser(
        "checklist",
        help="print the Monday checklist of each client from the ops API",
        description="Exit status: 0 all clear, 1 something needs attention, 2 unavailable.",
    )
    checklist.add_argument("--url", default="http://127.0.0.1:8787", help="the ops API")
    checklist.add_argument(
        "--token",
        default=None,
        help="operator ID token (default: $SHIPSHAPE_TOKEN, else the `shipshape login` one)",
    )
    checklist.add_argument("--client", action="append", help="a client id (repeatable)")
    checklist.add_argument("--json", action="store_true", help="print the raw JSON")
    checklist.set_defaults(run=_checklist)
    catalog = sub.add_parser(
        "catalog",
        help="feed the SKU master from the storefront, or from a CSV file",
        description="Exit status: 0 done, 2 the file was refused (nothing written).",
    )
    actions = catalog.add_subparsers(dest="catalog", required=True)
    sync = actions.add_parser("sync", help="read every product of the client's storefront")
    sync.add_argument("--client", required=True, help="the client id")
    sync.set_defaults(run=_catalog)
    load = actions.add_parser("import", help="a CSV of sku,title,barcode,weight,weight_unit,active")
    load.add_argument("file", help="the CSV file")
    load.add_argument("--client", required=True, help="the client id")
    load.add_argument(
        "--dry-run", action="store_true", help="print what would change; write nothing"
    )
    load.set_defaults(run=_catalog)
    onboarding = sub.add_parser(
        "onboard",
        help="onboard a client on a stack: secrets, catalog and stock, webhooks, a test order",
        description="Exit status: 0 onboarded, 1 a step failed (it says which and what to "
        "do), 2 misused or a file refused (nothing written). Secrets a platform issues (a "
        "storefront API credential, a Shopify app's client secret) are asked for without echo, "
        "or read one a line from stdin; the ones Shipshape issues are generated. Running it "
        "again changes nothing that is done.",
    )
    onboarding.add_argument("--client", required=True, help="the client file (TOML)")
    onboarding.add_argument("--url", help="the stack's API (its ApiUrl output)")
    onboarding.add_argument(
        "--rehearse",
        action="store_true",
        help="run every step on a throwaway embedded stack knowing only this client (its "
        "fake storefronts, made-up credentials), then discard it: the files and the test "
        "order are proved before a real onboarding; nothing reaches AWS or a storefront",
    )
    onboarding.add_argument(
        "--token",
        default=None,
        help="operator ID token (default: $SHIPSHAPE_TOKEN, else the `shipshape login` one)",
    )
    onboarding.add_argument(
        "--stock",
        help="opening catalog and stock CSV: sku,title,barcode,"
        "weight,weight_unit,length_mm,width_mm,height_mm,lot_tracked,"
        "active,warehouse,bin,quantity,lot,expires_on",
    )
    onboarding.add_argument(
        "--storefront-token",
        default=None,
        help="the one store's API credential (else asked for; a command line is seen by others)",
    )
    onboarding.add_argument(
        "--storefront-api-url",
        default=None,
        help="the storefront APIs' base (the embedded stack's fake storefronts, as `serve` prints)",
    )
    onboarding.add_argument(
        "--secrets-prefix", default="shipshape/", help="the stack's SecretsPrefix parameter"
    )
    onboarding.add_argument(
        "--region", default=None, help="Secrets Manager's region (default: boto3's)"
    )
    onboarding.add_argument("--test-sku", default=None, help="the SKU the test order takes")
    onboarding.add_argument(
        "--test-address",
        default=None,
        help="'line1|city|region|postal code|country' for the test order",
    )
    onboarding.add_argument(
        "--keep-test-order",
        action="store_true",
        help="leave the test order waiting for its pick (not cancelled)",
    )
    onboarding.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to follow the test order to each state",
    )
    onboarding.add_argument(
        "--no-webhooks",
        action="store_true",
        help="leave the storefronts' webhooks alone (a staging stack, or hooks made by hand)",
    )
    onboarding.set_defaults(run=_onboard)
    signin = sub.add_parser(
        "login",
        help="sign in as an operator; later commands use the session",
        description="Exit status: 0 signed in, 1 refused, 2 misused. The password is read "
        "without echo (or from stdin when it is not a terminal); an operator signing in for "
        "the first time chooses a new password.",
    )
    signin.add_argument("--url", help="the embedded stack (`shipshape serve`), e.g. "
                        "http://127.0.0.1:8787; without it, the user pool on AWS")  # fmt: skip
    signin.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    signin.add_argument("--client-id", default="", help="the stack's OperatorsUserPoolClientId")
    signin.add_argument("--username", default="", help="your operator user name")
    signin.set_defaults(run=_login)
    token = sub.add_parser("token", help="print the signed-in operator's ID token (renewed)")
    token.set_defaults(run=_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
