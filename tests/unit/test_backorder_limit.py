"""The client's backorder limit (``fulfilment.backorder_limit_days``): its bounds, refused by
name when a file leaves them; the reservation that backorders hands the limit, in seconds, to
the AwaitStock wait; and the rendered ASL reads that wait's timeout from its input."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from shipshape.config import ClientConfig, load_client_file
from shipshape.errors import ConfigurationError
from shipshape.kinds import ExceptionType
from shipshape.models import Order, OrderLine, OrderStatus, PaymentState, Platform
from shipshape.services.fulfillment import StepContext, WorkflowState, reserve_inventory
from shipshape.workflow import BY_STATE, Wait
from tests.builders import received_event
from tests.fakes import (
    CarrierStub,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    SettableClock,
)
from tests.helpers import CLIENTS_DIR

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
ORDER_ID = "ord_" + "e" * 20
FUEL = "FUEL-CANISTER-230"
POLICY = 'partial_policy = "ship_partial"\n'


def _asl_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shipshape_asl", ROOT / "scripts" / "asl.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_limit(folder: Path, line: str = "") -> Path:
    """Kite & Kin's client file, its policy backorder, with ``line`` after the policy."""
    text = (CLIENTS_DIR / "kite-and-kin.toml").read_text()
    assert POLICY in text and "backorder_limit_days" not in text
    path = folder / "kite-and-kin.toml"
    path.write_text(text.replace(POLICY, 'partial_policy = "backorder"\n' + line, 1))
    return path


# --- the setting ---------------------------------------------------------------------------


def test_without_a_limit_a_backorder_waits_fourteen_days_as_before(tmp_path: Path) -> None:
    # Given a backorder client file that names no limit
    path = _with_limit(tmp_path)

    # When it is loaded
    fulfilment = load_client_file(path).fulfilment

    # Then the wait for stock is 14 days, in whole seconds
    assert fulfilment.backorder_limit_days == 14
    assert fulfilment.backorder_limit_seconds == 14 * 24 * 3600


@pytest.mark.parametrize("days", [1, 3, 90])
def test_a_limit_within_bounds_is_the_clients(tmp_path: Path, days: int) -> None:
    # Given a client file with a backorder limit from 1 to 90 days
    path = _with_limit(tmp_path, f"backorder_limit_days = {days}\n")

    # When it is loaded
    fulfilment = load_client_file(path).fulfilment

    # Then the limit is the file's, and so is the wait's timeout
    assert fulfilment.backorder_limit_days == days
    assert fulfilment.backorder_limit_seconds == days * 86_400


@pytest.mark.parametrize("days", [0, -1, 91, 365])
def test_a_limit_out_of_bounds_is_refused_naming_the_field_and_the_bounds(
    tmp_path: Path, days: int
) -> None:
    # Given a client file whose backorder limit is no day at all, or more than 90 days
    path = _with_limit(tmp_path, f"backorder_limit_days = {days}\n")

    # When it is loaded
    with pytest.raises(ConfigurationError) as raised:
        load_client_file(path)

    # Then the message names the file, the field, the bounds and the value
    assert str(raised.value) == (
        "kite-and-kin.toml: fulfilment.backorder_limit_days: Value error, "
        f"backorder_limit_days must be 1 to 90 days, not {days}"
    )


@pytest.mark.parametrize("value", ['"3"', "3.5", "true"])
def test_a_limit_that_is_not_a_whole_number_of_days_is_refused(tmp_path: Path, value: str) -> None:
    # Given a client file whose backorder limit is text, a fraction or a flag
    path = _with_limit(tmp_path, f"backorder_limit_days = {value}\n")

    # When it is loaded
    with pytest.raises(ConfigurationError) as raised:
        load_client_file(path)

    # Then the field is named: the limit must be a whole number
    assert "fulfilment.backorder_limit_days: Input should be a valid integer" in str(raised.value)


def test_the_repositorys_backorder_client_documents_its_limit() -> None:
    # Given Acme's client file (its policy is backorder)
    text = (CLIENTS_DIR / "acme-outdoors.toml").read_text()

    # Then the limit is set there, with a comment, and is what loads
    (line,) = [ln for ln in text.splitlines() if ln.startswith("backorder_limit_days")]
    value, comment = line.split("=", 1)[1].split("#", 1)
    assert comment.strip()
    acme = load_client_file(CLIENTS_DIR / "acme-outdoors.toml")
    assert acme.fulfilment.backorder_limit_days == int(value)


# --- the workflow -------------------------------------------------------------------------


def test_the_backordering_reservation_hands_the_clients_limit_to_the_wait(
    acme: ClientConfig,
) -> None:
    # Given Acme with a 3-day limit and an order for fuel, none of it in stock
    client = acme.model_copy(
        update={"fulfilment": acme.fulfilment.model_copy(update={"backorder_limit_days": 3})}
    )
    repo = InMemoryOrderRepository()
    repo.inventory.receive_stock(client.client_id, FUEL, "pdx-1", "-", 0, "F-03-1", None)
    order = Order(
        order_id=ORDER_ID, client_id=client.client_id, platform=Platform.SHOPIFY,
        store="acme-outdoors.myshopify.com", storefront_order_id="78", version=1,
        storefront_updated_at=NOW, received_at=NOW, payment=PaymentState.PAID,
        lines=(OrderLine(line_id="l1", sku=FUEL, quantity=2),),
        status=OrderStatus.ADDRESS_VALIDATED, owner="ops", rules_version="1", audit_seq=1,
        warehouse="pdx-1",
    )  # fmt: skip
    repo.create(order, received_event(order, at=NOW))
    ctx = StepContext(
        repo, SettableClock(NOW), client, CarrierStub(), NotifierRecorder(), repo.inventory,
        RecordingWarehouseChannel(),
    )  # fmt: skip

    # When its reservation runs
    outcome = reserve_inventory(ctx, WorkflowState(order_id=ORDER_ID, client_id="acme-outdoors"))

    # Then it backorders, and its output (the AwaitStock state's input) says 3 days in seconds
    assert outcome.model_dump(mode="json") == {
        "order_id": ORDER_ID, "client_id": "acme-outdoors", "backordered": True,
        "stock_wait_seconds": 259_200,
    }  # fmt: skip


def test_the_rendered_await_stock_state_reads_its_timeout_from_its_input() -> None:
    # Given the ASL the declared workflow renders
    states = _asl_script().definition()["States"]

    # Then AwaitStock waits for its token as long as its input's stock_wait_seconds says
    # (TimeoutSecondsPath, never a fixed TimeoutSeconds beside it), still opening
    # inventory_short when that passes; the warehouse's waits keep their fixed 2 days
    stock = states["AwaitStock"]
    assert stock["Resource"].endswith(".waitForTaskToken")
    assert stock["TimeoutSecondsPath"] == "$.stock_wait_seconds"
    assert "TimeoutSeconds" not in stock
    assert BY_STATE["AwaitStock"].wait == Wait(
        "$.stock", seconds_path="$.stock_wait_seconds",
        timeout_opens=ExceptionType.INVENTORY_SHORT,
    )  # fmt: skip
    assert [states[s]["TimeoutSeconds"] for s in ("AwaitPickScans", "AwaitPackData")] == [
        172_800, 172_800,
    ]  # fmt: skip
    assert "TimeoutSecondsPath" not in states["AwaitPickScans"]


@pytest.mark.parametrize(
    ("seconds", "path", "refusal"),
    [
        (None, None, "either a fixed timeout or a timeout path"),
        (60, "$.wait", "either a fixed timeout or a timeout path"),
        (0, None, "must be positive, not 0"),
        (None, "stock_wait_seconds", "a path of its input"),
    ],
)
def test_a_wait_is_declared_with_one_valid_timeout(
    seconds: int | None, path: str | None, refusal: str
) -> None:
    # When a wait is declared with no timeout, two, a zero one or a path that is not one
    with pytest.raises(ValueError, match=refusal):
        Wait("$.stock", seconds, seconds_path=path)
