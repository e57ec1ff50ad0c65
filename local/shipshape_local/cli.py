"""`shipshape`: the command line of the embedded runtime."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading

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
        console.print(f"[bold]Shipshape[/] embedded stack serving on {door.url}")
        tokens = ", ".join(rt.dev.get("operators", {}))
        for line in (
            "  POST /webhooks/{platform}/{client_id}   storefront webhooks (signed)",
            "  POST /warehouse/{client_id}/events      warehouse events (bearer token)",
            "  GET  /orders/{order_id}[/audit]         ops API (operator token)",
            f"Storefront APIs (write-back, reconciliation, BigCommerce): {rt.storefronts.url}"
            if rt.storefronts
            else "",
            f"Development operator tokens (local/shipshape_local/dev-secrets.toml): {tokens}",
            f"Try: curl -H 'Authorization: Bearer dev-token-lead' {door.url}/orders/<order_id>",
            "Ctrl-C stops it; everything is in memory and goes with it.",
        ):
            console.print(line, markup=False, highlight=False)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        door.stop()
    return 0


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
        faults=args.faults, out=Path(args.out),
    )  # fmt: skip
    return run_pilot(options)


def _checklist(args: argparse.Namespace) -> int:
    from shipshape_local.checklist import ChecklistUnavailable, fetch, render

    console = Console()
    try:
        checklists = fetch(args.url, args.token, args.client or [])
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shipshape", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the embedded stack over HTTP on 127.0.0.1")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
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
    pilot.set_defaults(run=_pilot)
    checklist = sub.add_parser(
        "checklist",
        help="print the Monday checklist of each client from the ops API",
        description="Exit status: 0 all clear, 1 something needs attention, 2 unavailable.",
    )
    checklist.add_argument("--url", default="http://127.0.0.1:8787", help="the ops API")
    checklist.add_argument(
        "--token",
        default=os.environ.get("SHIPSHAPE_TOKEN", "dev-token-lead"),
        help="operator token (default: $SHIPSHAPE_TOKEN, else the embedded lead's)",
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
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
