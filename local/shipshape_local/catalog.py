"""`shipshape catalog`: the SKU master fed from the storefront, on the embedded stack.

- ``sync --client X``: read every product of the client's Shopify stores (paged) and apply
  each to the SKU master (``shipshape.services.catalog.sync_catalog``);
- ``import FILE --client X [--dry-run]``: a CSV of ``sku,title,barcode,weight,weight_unit,
  active`` for a store whose catalog lives elsewhere; the dry run prints what would change and
  writes nothing. A file with any bad row is refused whole, naming each bad row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shipshape.errors import PayloadInvalid
from shipshape.models import StorefrontProduct, StorefrontVariant
from shipshape.ports import Clock, InventoryRepository
from shipshape.services.catalog import CatalogChange, ChangeKind, apply_product
from shipshape.storefronts.base import epoch_ms, grams

CSV_SOURCE = "csv"
CSV_STORE = "import"
COLUMNS = ("sku", "title", "barcode", "weight", "weight_unit", "active")
_TRUE = frozenset({"", "1", "true", "yes", "y", "active"})
_FALSE = frozenset({"0", "false", "no", "n", "inactive", "archived", "draft"})


class CatalogFileInvalid(Exception):
    """The CSV file cannot be imported; ``problems`` names each bad row."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    changes: list[CatalogChange] = field(default_factory=list)
    rows: int = 0


def read_csv(text: str, version: int) -> list[StorefrontProduct]:
    """One product (of one variant) per row; ``CatalogFileInvalid`` naming every bad row."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "sku" not in header:
        raise CatalogFileInvalid([f"the header must name the columns {', '.join(COLUMNS)}"])
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        raise CatalogFileInvalid([f"unknown columns {', '.join(unknown)}"])
    products: list[StorefrontProduct] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        try:
            product = _row(row, version)
        except (PayloadInvalid, ValidationError, ValueError) as exc:
            problems.append(f"row {number}: {_message(exc)}")
            continue
        if product.product_id in seen:
            problems.append(f"row {number}: SKU {product.product_id} is listed twice")
            continue
        seen.add(product.product_id)
        products.append(product)
    if problems:
        raise CatalogFileInvalid(problems)
    return products


def _row(row: dict[str, str], version: int) -> StorefrontProduct:
    sku = row.get("sku", "")
    if not sku:
        raise ValueError("sku is empty")
    active_text = row.get("active", "").lower()
    if active_text not in _TRUE | _FALSE:
        raise ValueError(f"active {row['active']!r} is not true or false")
    variant = StorefrontVariant(
        sku=sku,
        variant_id=sku,
        title=row.get("title", ""),
        barcode=row.get("barcode") or None,
        unit_weight_grams=grams(row.get("weight") or None, row.get("weight_unit") or "g", "weight"),
        active=active_text in _TRUE,
    )
    return StorefrontProduct(
        source=CSV_SOURCE, store=CSV_STORE, product_id=sku, version=version, variants=(variant,)
    )


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def import_catalog(
    text: str, *, client_id: str, inventory: InventoryRepository, clock: Clock, dry_run: bool
) -> ImportResult:
    """Apply (or, with ``dry_run``, only plan) a CSV catalog to the client's SKU master."""
    products = read_csv(text, epoch_ms(clock.now()))
    result = ImportResult(rows=len(products))
    for product in products:
        result.changes += apply_product(
            client_id=client_id, product=product, inventory=inventory, clock=clock,
            dry_run=dry_run, via="csv",
        )  # fmt: skip
    return result


def render_changes(console: Console, changes: list[CatalogChange], *, title: str) -> None:
    """What changed (or would), SKU by SKU: the fields with their old and new values."""
    counts = {kind: sum(1 for c in changes if c.change is kind) for kind in ChangeKind}
    console.print(
        f"[bold]{title}[/]: " + ", ".join(f"{n} {kind.value}" for kind, n in counts.items() if n)
        if changes
        else f"[bold]{title}[/]: nothing",
        highlight=False,
    )
    shown = [c for c in changes if c.change is not ChangeKind.UNCHANGED]
    if not shown:
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="dim")
    for column in ("sku", "change", "field", "before", "after"):
        table.add_column(column, overflow="fold")
    for change in shown:
        if not change.fields:
            table.add_row(change.sku, change.change.value, "", "", "")
        for index, name in enumerate(change.fields):
            table.add_row(
                change.sku if index == 0 else "", change.change.value if index == 0 else "",
                name, _shown(change.before.get(name)), _shown(change.after.get(name)),
            )  # fmt: skip
    console.print(table)


def _shown(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def run_import(console: Console, path: Path, *, client_id: str, dry_run: bool) -> int:
    """`shipshape catalog import`: 0 imported (or planned), 2 the file was refused."""
    import shipshape.bootstrap

    deps = shipshape.bootstrap.container()
    deps.clients.get(client_id)  # an unknown client is refused before the file is read
    try:
        result = import_catalog(
            path.read_text(encoding="utf-8-sig"), client_id=client_id,
            inventory=deps.inventory, clock=deps.clock, dry_run=dry_run,
        )  # fmt: skip
    except CatalogFileInvalid as exc:
        console.print(f"[red]{path.name} refused, nothing written:[/]", highlight=False)
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False, highlight=False)
        return 2
    title = f"{client_id}: {result.rows} row(s) of {path.name}" + (
        " (dry run: nothing written)" if dry_run else ""
    )
    render_changes(console, result.changes, title=title)
    return 0


def run_sync(console: Console, *, client_id: str) -> int:
    """`shipshape catalog sync`: 0 synced."""
    import shipshape.bootstrap
    from shipshape.services.catalog import sync_catalog

    deps = shipshape.bootstrap.container()
    results = sync_catalog(
        client=deps.clients.get(client_id), storefronts=deps.storefronts,
        inventory=deps.inventory, clock=deps.clock,
    )  # fmt: skip
    for result in results:
        render_changes(
            console, result.changes,
            title=f"{client_id}: {result.products} product(s) of {result.store}",
        )  # fmt: skip
    return 0
