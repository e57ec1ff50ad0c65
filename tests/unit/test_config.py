"""Client configuration files: the repository's files load, mistakes are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipshape.config import ClientDirectory, load_client_file
from shipshape.errors import ConfigurationError, UnknownClient
from shipshape.models import OrderStatus, Platform
from tests.helpers import CLIENTS_DIR

MINIMAL_CLIENT = """\
client_id = "kite-and-kin"
name = "Kite & Kin"
timezone = "Europe/London"
warehouse_token_secret_name = "shipshape/kite-and-kin/warehouse-token"
pickers = ["lon-picker-amara"]
{extra_top}
[[stores]]
platform = "generic"
store = "kite-and-kin"
webhook_secret_name = "shipshape/kite-and-kin/generic-webhook"
{extra_store}
{extra_tables}
"""


# Every client needs a complete owner matrix; borrow the real Kite & Kin one.
RULES = (CLIENTS_DIR / "kite-and-kin.toml").read_text().split("# --- operating rules", 1)[1]
RULES = "\n# --- operating rules" + RULES


def write_client(
    folder: Path,
    *,
    file_name: str = "kite-and-kin.toml",
    extra_top: str = "",
    extra_store: str = "",
    extra_tables: str = "",
    replace: tuple[str, str] | None = None,
) -> Path:
    """A minimal valid client file, changed in one way by the keyword given."""
    text = (
        MINIMAL_CLIENT.format(
            extra_top=extra_top, extra_store=extra_store, extra_tables=extra_tables
        )
        + RULES
    )
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path = folder / file_name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("client_id", "platform", "on_call"),
    [
        ("acme-outdoors", (Platform.SHOPIFY,), "olivia.lead"),
        ("kite-and-kin", (Platform.GENERIC, Platform.BIGCOMMERCE), "ops-on-call"),
        ("nordlicht", (Platform.WOOCOMMERCE,), "ops-on-call"),
    ],
)
def test_repository_client_files_load(
    client_id: str, platform: tuple[Platform, ...], on_call: str
) -> None:
    # Given a client file shipped in the repository
    path = CLIENTS_DIR / f"{client_id}.toml"

    # When it is loaded
    client = load_client_file(path)

    # Then it names its client, its stores' platforms, and an owner for every status
    assert client.client_id == client_id
    assert tuple(store.platform for store in client.stores) == platform
    assert set(client.status_owners) == set(OrderStatus)
    assert client.owner_of(OrderStatus.ON_HOLD) == on_call
    assert client.owner_of(OrderStatus.RECEIVED) == "client-success"


def test_client_directory_lists_every_client_and_refuses_unknown_ones() -> None:
    # Given the repository's client folder
    directory = ClientDirectory(CLIENTS_DIR)

    # When every client is listed and an unknown one asked for
    listed = [client.client_id for client in directory.all()]
    with pytest.raises(UnknownClient, match="no client 'acme-outdoor' is configured"):
        directory.get("acme-outdoor")

    # Then the three configured clients are there
    assert listed == ["acme-outdoors", "kite-and-kin", "nordlicht"]


def test_minimal_client_file_loads_with_the_default_owners(tmp_path: Path) -> None:
    # Given the minimal file every refusal below changes in one way
    path = write_client(tmp_path)

    # When it is loaded
    client = load_client_file(path)

    # Then it is valid, and defaults own every status
    assert client.owner_of(OrderStatus.PICKED) == "warehouse"
    assert client.store_for(Platform.GENERIC, "Kite-And-Kin") is not None


def test_empty_owner_for_a_status_is_refused_naming_the_status(tmp_path: Path) -> None:
    # Given a file that blanks the owner of PICKED
    path = write_client(tmp_path, extra_tables='[status_owners]\nPICKED = ""\n')

    # When it is loaded
    with pytest.raises(ConfigurationError) as raised:
        load_client_file(path)

    # Then the message names the file and the unowned status
    assert str(raised.value).startswith("kite-and-kin.toml: ")
    assert "status_owners has no owner for PICKED" in str(raised.value)


def test_unknown_timezone_is_refused_naming_the_field(tmp_path: Path) -> None:
    # Given a file with a timezone that is not in the IANA database
    path = write_client(tmp_path, replace=("Europe/London", "Europe/Londinium"))

    # When it is loaded
    with pytest.raises(ConfigurationError) as raised:
        load_client_file(path)

    # Then the message names the field and the value
    assert "timezone: " in str(raised.value)
    assert "unknown IANA timezone 'Europe/Londinium'" in str(raised.value)


def test_client_id_must_match_the_file_name(tmp_path: Path) -> None:
    # Given a copy of a client's file saved under another client's name
    path = write_client(tmp_path, file_name="kite-and-co.toml")

    # When it is loaded
    with pytest.raises(ConfigurationError) as raised:
        load_client_file(path)

    # Then it is refused, saying which id does not match
    assert str(raised.value) == (
        "kite-and-co.toml: client_id 'kite-and-kin' must match the file name"
    )


@pytest.mark.parametrize(
    ("change", "location"),
    [
        pytest.param({"extra_top": 'colour = "teal"'}, "colour", id="top-level"),
        pytest.param(
            {"extra_store": 'webhook_secret = "whsec_live_value"'},
            "stores.0.webhook_secret",
            id="secret-value-in-a-store",
        ),
        pytest.param(
            {"extra_tables": '[status_ownrs]\nON_HOLD = "kk-ops"'}, "status_ownrs", id="typo"
        ),
    ],
)
def test_unknown_keys_are_refused_naming_them(
    tmp_path: Path, change: dict[str, str], location: str
) -> None:
    # Given a file with a key Shipshape does not know (see the case id)
    path = write_client(
        tmp_path,
        extra_top=change.get("extra_top", ""),
        extra_store=change.get("extra_store", ""),
        extra_tables=change.get("extra_tables", ""),
    )

    # When it is loaded
    with pytest.raises(ConfigurationError) as raised:
        load_client_file(path)

    # Then the message names where the key is
    assert f"{location}: Extra inputs are not permitted" in str(raised.value)


def test_malformed_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    # Given a file with a broken line
    path = write_client(tmp_path, extra_top='pickers_extra = ["unterminated')

    # When it is loaded
    with pytest.raises(ConfigurationError) as raised:
        load_client_file(path)

    # Then the message names the file and says it is not TOML
    assert str(raised.value).startswith("kite-and-kin.toml: not valid TOML: ")
