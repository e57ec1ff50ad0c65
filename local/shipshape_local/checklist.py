"""`shipshape checklist`: the Monday-morning checklist of each client, read from the ops API
(a running `shipshape serve`, or a deployed stack with an operator's token)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from rich.console import Console
from rich.table import Table


class ChecklistUnavailable(Exception):
    """The ops API could not be reached or refused the request."""


def _get(base_url: str, path: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the operator's own API URL
        base_url.rstrip("/") + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        try:
            message = json.loads(body).get("message", body)
        except ValueError:
            message = body
        raise ChecklistUnavailable(f"{path}: {exc.code} {message}") from None
    except OSError as exc:
        raise ChecklistUnavailable(f"cannot reach {base_url}: {exc}") from None


def fetch(base_url: str, token: str, clients: list[str]) -> list[dict[str, Any]]:
    """The checklist of each client (every client the operator serves when none is named)."""
    if not clients:
        clients = list(_get(base_url, "/me", token)["clients"])
    return [
        _get(base_url, "/checklist?" + urllib.parse.urlencode({"client": c}), token)
        for c in clients
    ]


def render(console: Console, checklists: list[dict[str, Any]]) -> None:
    for checklist in checklists:
        verdict = "[green]all clear[/]" if checklist["ok"] else "[yellow]needs attention[/]"
        console.rule(
            f"[bold]{checklist['client_id']}[/]: Monday checklist, rules version "
            f"{checklist['rules_version']} ({verdict})"
        )
        for item in checklist["items"]:
            mark = "[green]✓[/]" if item["ok"] else "[yellow]![/]"
            console.print(f"{mark} [bold]{item['title']}[/]: {item['summary']}", highlight=False)
            entries = item["entries"]
            if not entries:
                continue
            table = Table(show_edge=False, pad_edge=False, box=None, header_style="dim")
            for column in entries[0]:
                table.add_column(column, overflow="fold")
            for entry in entries:
                table.add_row(*(str(entry.get(column, "")) for column in entries[0]))
            console.print(table)
        console.print()
