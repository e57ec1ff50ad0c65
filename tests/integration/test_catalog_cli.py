"""`shipshape catalog` as a user runs it, a real process on the embedded stack: the CSV import's
dry run prints what would change and writes nothing, a bad file is refused whole, and the pull
reads the client's storefront."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SHIPSHAPE = [sys.executable, "-m", "shipshape_local.cli"]
CSV = """sku,title,barcode,weight,weight_unit,active
TENT-2P-GRN,Ridgeline 2P tent (2027),004259346641,2.2,kg,true
STOVE-CANISTER,Canister stove,0001112223334,300,g,true
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [*SHIPSHAPE, *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )  # fmt: skip


def test_catalog_import_dry_run_prints_what_would_change(tmp_path: Path) -> None:
    # Given a CSV changing the seeded tent's title and weight (2100 g) and adding a stove
    path = tmp_path / "acme-catalog.csv"
    path.write_text(CSV)

    # When it is imported as a dry run
    done = _run("catalog", "import", str(path), "--client", "acme-outdoors", "--dry-run")

    # Then it exits 0 and prints each change with its old and new values, writing nothing
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "2 row(s) of acme-catalog.csv (dry run: nothing written): 1 created, 1 updated" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["unit_weight_grams", "2100", "2200"] in [row[-3:] for row in rows]
    assert ["TENT-2P-GRN", "updated", "title"] in [row[:3] for row in rows]
    assert ["STOVE-CANISTER", "created", "title"] in [row[:3] for row in rows]


def test_catalog_import_refuses_a_bad_file_whole(tmp_path: Path) -> None:
    # Given a CSV whose second data row has an active flag that is neither true nor false
    path = tmp_path / "bad.csv"
    path.write_text(CSV.replace("300,g,true", "300,g,maybe"))

    # When it is imported, then it exits 2 naming the row, and nothing is written
    done = _run("catalog", "import", str(path), "--client", "acme-outdoors")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "bad.csv refused, nothing written:" in done.stdout
    assert "row 3: active 'maybe' is not true or false" in done.stdout


def test_catalog_sync_reads_the_clients_storefront() -> None:
    # When the pull runs on the embedded stack (its fake Shopify shop holds no products yet)
    done = _run("catalog", "sync", "--client", "acme-outdoors")

    # Then it read the shop and reports that nothing changed
    assert done.returncode == 0, done.stdout + done.stderr
    assert "acme-outdoors: 0 product(s) of acme-outdoors.myshopify.com: nothing" in done.stdout
