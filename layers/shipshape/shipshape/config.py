"""Client configuration and process settings, both validated pydantic models.

A client's configuration is one TOML file under the config folder (``config/clients`` in the
repository, shipped to Lambda as a layer mounted under ``/opt/clients``). Secrets are never in
these files, only the *names* under which Secrets Manager (or the embedded runtime) keeps them.
"""

import os
import time
import tomllib
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shipshape.base import Model
from shipshape.errors import ConfigurationError, UnknownClient
from shipshape.models import (
    NAME_MAX_LENGTH,
    AddressText,
    ClientId,
    CountryCode,
    OrderStatus,
    PaymentState,
    PersonName,
    Platform,
    QaGate,
)
from shipshape.rules import MAX_PEOPLE, ClientRules, Remediation, calendar_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from shipshape.ports import RuleStore
from shipshape.sla import BusinessCalendar

DEFAULT_STATUS_OWNERS: dict[OrderStatus, str] = {
    OrderStatus.RECEIVED: "client-success",
    OrderStatus.PARTIALLY_PAID: "client-success",  # chases the balance with the customer
    OrderStatus.ACCEPTED: "ops",
    OrderStatus.ADDRESS_VALIDATED: "ops",
    OrderStatus.PARTIALLY_RESERVED: "ops",
    OrderStatus.BACKORDERED: "ops",
    OrderStatus.RESERVED: "ops",
    OrderStatus.PICKER_ASSIGNED: "warehouse",
    OrderStatus.AWAITING_PICK: "warehouse",
    OrderStatus.PICKED: "warehouse",
    OrderStatus.AWAITING_PACK: "warehouse",
    OrderStatus.PACKED: "warehouse",
    OrderStatus.LABELLED: "logistics",
    OrderStatus.SHIPPED: "logistics",
    OrderStatus.COMPLETED_PARTIAL: "client-success",  # tells the customer about the rest
    OrderStatus.ON_HOLD: "ops-on-call",
    OrderStatus.EXCEPTION: "ops",  # the open exception's own owner takes precedence
    OrderStatus.QUARANTINED: "ops-on-call",
    OrderStatus.CANCELLED: "client-success",
    OrderStatus.NOTHING_TO_SHIP: "client-success",  # digital goods and services are theirs
}


class FulfilOn(StrEnum):
    """The payment state from which a client's orders are fulfilled."""

    PAID = "paid"  # captured: the default, nothing ships before the money is taken
    AUTHORIZED = "authorized"  # authorized at checkout, captured by the client on shipment


class PartialPolicy(StrEnum):
    """What happens when stock covers only part of an order."""

    SHIP_PARTIAL = "ship_partial"  # ship what is in stock; the rest is recorded unfulfilled
    HOLD_ALL = "hold_all"  # hold what is reserved; ops decides (inventory_short)
    BACKORDER = "backorder"  # hold what is reserved; wait for stock, then ship it all


# As the warehouse names them in its events (StockReceivedEvent.warehouse, a bin's zone).
WarehouseName = Annotated[str, Field(min_length=1, max_length=32)]
ServiceName = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
MAX_WAREHOUSES = 50
MAX_SERVICES = 20  # a carrier's services a client ships with, not its whole catalogue
MAX_ZONES = 100
# How long a backordered order may wait for stock (fulfilment.backorder_limit_days): at least a
# day, at most a quarter (the wait is one state of the order's execution, which a Standard
# workflow lets run a year at most, exceptions and retries included).
DEFAULT_BACKORDER_LIMIT_DAYS = 14
MIN_BACKORDER_LIMIT_DAYS = 1
MAX_BACKORDER_LIMIT_DAYS = 90


class GateRule(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: PersonName
    remediation: Remediation


DEFAULT_GATES: dict[QaGate, GateRule] = {
    QaGate.PRE_PICK: GateRule(
        owner="ops",
        remediation=(
            "Correct the SKU master (activate the SKU, record its lot) or block the lot",
            "Retry: the reservation is released and made again from eligible lots",
        ),
    ),
    QaGate.POST_PICK: GateRule(
        owner="warehouse",
        remediation=(
            "Return the picked units to their bins",
            "Retry: the picker re-picks and re-scans against the pick list",
        ),
    ),
    QaGate.PACKING: GateRule(
        owner="warehouse",
        remediation=(
            "Open the parcel and check its contents against the packing manifest",
            "Retry: repack and weigh again",
        ),
    ),
    QaGate.SHIPPING: GateRule(
        owner="logistics",
        remediation=(
            "Retry to void the label and re-rate with a service that meets the promise",
            "Or waive with the client's approval of a later delivery",
        ),
    ),
}


class FulfilmentConfig(Model):
    """How a client's orders are fulfilled: stock policy, warehouses, QA tolerances, shipping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partial_policy: PartialPolicy = PartialPolicy.HOLD_ALL
    fulfil_on: FulfilOn = FulfilOn.PAID
    warehouses: tuple[WarehouseName, ...] = Field(
        min_length=1, max_length=MAX_WAREHOUSES, description="In order of preference."
    )
    ship_from_postal_code: AddressText = Field(min_length=1)
    ship_from_country: CountryCode
    min_shelf_life_days: int = Field(default=0, ge=0, description="For lot-tracked SKUs.")
    weight_tolerance_percent: float = Field(default=10, gt=0, le=100)
    packaging_allowance_grams: int = Field(default=500, ge=0)
    max_box_to_items_volume: float = Field(default=8.0, ge=1)
    promised_transit_days: int = Field(default=5, ge=1)
    # How long a backordered order waits for stock before inventory_short opens (the
    # AwaitStock wait's timeout): 14 days unless the client says otherwise.
    backorder_limit_days: int = Field(
        default=DEFAULT_BACKORDER_LIMIT_DAYS,
        strict=True,
        description="Days a backordered order waits for stock before inventory_short opens.",
    )
    services: tuple[ServiceName, ...] = Field(
        default=("ground", "express", "postal"), min_length=1, max_length=MAX_SERVICES
    )
    picker_zones: dict[
        PersonName, Annotated[tuple[WarehouseName, ...], Field(max_length=MAX_ZONES)]
    ] = Field(default_factory=dict, description="Zones a picker works; absent: every zone.")
    gates: dict[QaGate, GateRule] = Field(default_factory=dict)

    @field_validator("backorder_limit_days")
    @classmethod
    def _backorder_limit_in_bounds(cls, value: int) -> int:
        if not MIN_BACKORDER_LIMIT_DAYS <= value <= MAX_BACKORDER_LIMIT_DAYS:
            raise ValueError(
                f"backorder_limit_days must be {MIN_BACKORDER_LIMIT_DAYS} to "
                f"{MAX_BACKORDER_LIMIT_DAYS} days, not {value}"
            )
        return value

    @property
    def backorder_limit_seconds(self) -> int:
        """The AwaitStock wait's timeout: a positive whole number of seconds, as the state
        machine's TimeoutSecondsPath needs it."""
        return self.backorder_limit_days * 24 * 3600

    @model_validator(mode="after")
    def _every_gate_owned(self) -> "FulfilmentConfig":
        object.__setattr__(self, "gates", {**DEFAULT_GATES, **self.gates})
        return self

    def fulfils(self, payment: PaymentState) -> bool:
        """Whether an order whose payment stands so may be fulfilled (or go on being)."""
        if payment in (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED):
            # Partly refunded is paid for what is left: the refunded units leave the order
            # (or, after picking, a payment_mismatch holds it: see ``Order.refund_unsettled``).
            return True
        return payment is PaymentState.AUTHORIZED and self.fulfil_on is FulfilOn.AUTHORIZED

    def zones_of(self, picker: str) -> tuple[str, ...] | None:
        return self.picker_zones.get(picker)


class StoreConfig(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Platform
    store: str = Field(
        min_length=1,
        description=(
            "Shopify shop domain, WooCommerce site URL, BigCommerce store hash, or the generic "
            "sender's name."
        ),
    )
    webhook_secret_name: str = Field(min_length=1)
    previous_webhook_secret_name: str | None = Field(
        default=None,
        description="While rotating: the old secret, accepted until previous_secret_expires_at.",
    )
    previous_secret_expires_at: AwareDatetime | None = Field(
        default=None, description="End of the rotation window (required with a previous secret)."
    )
    api_token_secret_name: str | None = Field(
        default=None,
        description=(
            "Secrets Manager name of the storefront API credential: a Shopify Admin API access "
            "token, a WooCommerce 'consumer_key:consumer_secret' pair, or a BigCommerce API "
            "account's access token. Without it Shipshape neither tells the storefront what "
            "shipped nor reconciles the store (and cannot take BigCommerce orders at all)."
        ),
    )
    api_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="The storefront API's base URL, when it is not the platform's usual one.",
    )
    weight_unit: Literal["g", "kg", "lbs", "oz"] = Field(
        default="kg",
        description=(
            "WooCommerce and BigCommerce stores: the store's weight unit (WooCommerce > "
            "Settings > Products; BigCommerce > Settings > Display), which its product "
            "weights are given in; WooCommerce's default is kg."
        ),
    )

    @model_validator(mode="after")
    def _rotation_has_an_end(self) -> "StoreConfig":
        if self.previous_webhook_secret_name and self.previous_secret_expires_at is None:
            raise ValueError(
                "previous_webhook_secret_name needs previous_secret_expires_at: a rotation "
                "window must end"
            )
        return self

    def secret_names(self, now: datetime) -> list[str]:
        """The secrets a delivery may be signed with now: the current one, and the previous
        one while the rotation window is open."""
        expires = self.previous_secret_expires_at
        if self.previous_webhook_secret_name and expires is not None and now < expires:
            return [self.webhook_secret_name, self.previous_webhook_secret_name]
        return [self.webhook_secret_name]


# What rules governance versions: owners, SLAs and escalation chains, partial policy, QA.
GOVERNED_SECTIONS = ("status_owners", "pickers", "rules", "fulfilment")


class ClientConfig(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: ClientId
    name: str
    timezone: str
    stores: tuple[StoreConfig, ...] = Field(min_length=1)
    warehouse_token_secret_name: str
    rules_version: str = Field(
        default="1", pattern=r"^[1-9][0-9]{0,5}$", description="1 in the file; then governed."
    )
    # A blank owner is refused below, naming the status it leaves without one.
    status_owners: dict[OrderStatus, Annotated[str, Field(max_length=NAME_MAX_LENGTH)]] = Field(
        default_factory=dict
    )
    pickers: tuple[PersonName, ...] = Field(min_length=1, max_length=MAX_PEOPLE)
    rules: ClientRules
    fulfilment: FulfilmentConfig

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _every_status_owned(self) -> "ClientConfig":
        merged = {**DEFAULT_STATUS_OWNERS, **self.status_owners}
        missing = [s.value for s in OrderStatus if not (merged.get(s) or "").strip()]
        if missing:
            raise ValueError(f"status_owners has no owner for {', '.join(missing)}")
        object.__setattr__(self, "status_owners", merged)
        known = self.rules.known_owners()
        for gate, rule in self.fulfilment.gates.items():
            if rule.owner not in known:
                raise ValueError(
                    f"fulfilment.gates.{gate.value} owner {rule.owner!r} is not a team or "
                    "person in rules"
                )
        strangers = sorted(set(self.fulfilment.picker_zones) - set(self.pickers))
        if strangers:
            raise ValueError(f"fulfilment.picker_zones names unknown picker(s) {strangers}")
        return self

    @cached_property
    def calendar(self) -> BusinessCalendar:
        """The client's business calendar (timezone, working hours, public holidays).

        Built on first use: validating a holiday region imports the holidays library (about
        100 ms), which only exception handling needs. The test suite builds every client's
        calendar, so a bad region is refused before it is deployed."""
        return calendar_for(self.timezone, self.rules.working_hours)

    def owner_of(self, status: OrderStatus) -> str:
        return self.status_owners[status]

    def store_for(self, platform: Platform, store: str) -> StoreConfig | None:
        wanted = store.strip().lower().rstrip("/")
        for candidate in self.stores:
            if candidate.platform is platform and candidate.store.lower().rstrip("/") == wanted:
                return candidate
        return None

    def stores_on(self, platform: Platform) -> tuple[StoreConfig, ...]:
        return tuple(s for s in self.stores if s.platform is platform)


def load_client_file(path: Path) -> ClientConfig:
    """Read and validate one client file; errors name the file and the exact field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        config = ClientConfig.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path.name}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"{path.name}: {problems}") from exc
    if config.client_id != path.stem:
        raise ConfigurationError(
            f"{path.name}: client_id {config.client_id!r} must match the file name"
        )
    return config


class ClientDirectory:
    """The configured clients: each client's file, loaded once per process, with the rules
    version active in the rule store (if any) in place of the file's governed sections.

    The active version is cached for ``rules_ttl_seconds``: a process picks up an activation
    within that time (at once in the process that activated it)."""

    def __init__(
        self,
        folder: Path,
        rules: "RuleStore | None" = None,
        rules_ttl_seconds: float = 30.0,
    ) -> None:
        self._folder = folder
        self._rules = rules
        self._ttl = rules_ttl_seconds
        self._active: dict[str, tuple[float, ClientConfig]] = {}

    def file_config(self, client_id: str) -> ClientConfig:
        try:
            return self._clients[client_id]
        except KeyError:
            raise UnknownClient(f"no client {client_id!r} is configured") from None

    def forget(self, client_id: str) -> None:
        """Drop the cached active rules of a client (after an activation)."""
        self._active.pop(client_id, None)

    def _governed(self, base: ClientConfig) -> ClientConfig:
        if self._rules is None:
            return base
        cached = self._active.get(base.client_id)
        now = time.monotonic()
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        active = self._rules.active_rules(base.client_id)
        config = base
        if active is not None:
            config = ClientConfig.model_validate(
                {
                    **base.model_dump(mode="json", exclude=set(GOVERNED_SECTIONS)),
                    **active.document,
                    "rules_version": str(active.version),
                }
            )
        self._active[base.client_id] = (now, config)
        return config

    @cached_property
    def _clients(self) -> dict[str, ClientConfig]:
        if not self._folder.is_dir():
            raise ConfigurationError(f"client config folder {self._folder} does not exist")
        return {p.stem: load_client_file(p) for p in sorted(self._folder.glob("*.toml"))}

    def get(self, client_id: str) -> ClientConfig:
        return self._governed(self.file_config(client_id))

    def all(self) -> list[ClientConfig]:
        return [self._governed(c) for c in self._clients.values()]

    def owners_of(self, platform: Platform, store: str) -> list[tuple[ClientConfig, StoreConfig]]:
        """Every configured client with a ``platform`` store named ``store`` (compared as
        ``store_for`` compares), and that store: for a delivery that names its store but not
        its client (Shopify's EventBridge events carry the shop domain only). More than one
        is a configuration mistake the caller must refuse, not guess through."""
        found = []
        for client in self.all():
            configured = client.store_for(platform, store)
            if configured is not None:
                found.append((client, configured))
        return found


class Settings(Model):
    """Process settings, read from the environment once at cold start: each field from
    ``SHIPSHAPE_<FIELD>`` (see ``from_environment``). A plain pydantic model: pydantic-settings
    would cost about 35 ms of imports (asyncio, ssl, dotenv) at every cold start to read these
    few variables (docs/PERFORMANCE.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    orders_table: str = Field(min_length=1)
    state_machine_arn: str = ""
    idempotency_table: str = ""
    notifications_topic_arn: str = ""
    event_bus_name: str = ""
    # Shopify's Amazon EventBridge front door: the partner event source its events must come
    # from, and the account they must have been delivered to (both set only where it is on).
    shopify_event_source: str = ""
    shopify_event_account: str = ""
    client_config_dir: Path = Path("/opt/clients")
    secrets_max_age_seconds: int = 300
    rules_ttl_seconds: float = 30.0
    max_body_bytes: int = 256 * 1024

    @classmethod
    def from_environment(cls, environ: "Mapping[str, str] | None" = None) -> "Settings":
        env = os.environ if environ is None else environ
        names = {f"SHIPSHAPE_{name.upper()}": name for name in cls.model_fields}
        return cls.model_validate({names[k]: v for k, v in env.items() if k in names})

    def requiring(self, *names: str) -> "Settings":
        """These settings, each checked set. A function calls this at cold start with what
        it needs, so a stack deployed without one fails its init, naming the variable, instead
        of answering requests with errors later."""
        unknown = set(names) - set(type(self).model_fields)
        if unknown:
            raise ValueError(f"no such setting: {', '.join(sorted(unknown))}")
        missing = [f"SHIPSHAPE_{name.upper()}" for name in names if not getattr(self, name)]
        if missing:
            raise ConfigurationError(
                f"{', '.join(missing)} is not set: this function needs it (template.yaml "
                "sets it in the function's environment)"
            )
        return self
