"""What the pilot plans from its seed: the clients' kits (SKUs, addresses, platforms), the
fault profiles, and which orders arrive when, for whom, with which faults."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipshape.models import AT_REST_STATUSES, FINAL_STATUSES, SHIPPED_STATUSES
from shipshape_local.faults import FaultRates
from shipshape_local.issuer import dev_token
from shipshape_local.storefronts import Line, Person, PostalAddress

PILOT_START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday
TICK = timedelta(minutes=15)
LEAD = dev_token("olivia.lead")
SECOND_LEAD = dev_token("hana.lead")  # approves what the first lead asked for (a cancellation)
OPERATOR_TOKENS = {
    "acme-outdoors": dev_token("omar.operator"),
    "nordlicht": dev_token("nils.operator"),
    "kite-and-kin": dev_token("hana.lead"),
}
ALL_CLIENTS = ("acme-outdoors", "nordlicht", "kite-and-kin")
# Nothing more for the pilot to plan: at rest, or final without a shipment to notify of
# (cancelled, nothing to ship); a shipped order is settled once its customer is told.
SETTLED = AT_REST_STATUSES | (FINAL_STATUSES - SHIPPED_STATUSES)
FINAL = FINAL_STATUSES
# Orders arrive along a day: share of the day's orders per UTC hour (evenings heavier).
HOURLY = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 6, 7, 8, 8, 7, 5, 3, 2]


@dataclass(frozen=True)
class FaultProfile:
    """Probabilities per order (duplicates and out-of-order per delivery)."""

    sloppy_address: float
    invalid_address: float
    stock_out: float
    lot_problem: float
    wrong_pick: float
    weight_mismatch: float
    carrier_reject: float
    unexpected_failure: float
    duplicate: float
    out_of_order: float
    cancel: float
    late_owner: float  # an owner who acts after the deadline
    # What AWS does on a bad day, injected by the embedded runtime (see faults.py).
    infrastructure: FaultRates = field(default_factory=FaultRates)


PROFILES = {
    "none": FaultProfile(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "realistic": FaultProfile(
        sloppy_address=0.10, invalid_address=0.03, stock_out=0.04, lot_problem=0.02,
        wrong_pick=0.02, weight_mismatch=0.02, carrier_reject=0.015, unexpected_failure=0.005,
        duplicate=0.08, out_of_order=0.04, cancel=0.03, late_owner=0.25,
    ),
    "heavy": FaultProfile(
        sloppy_address=0.25, invalid_address=0.08, stock_out=0.10, lot_problem=0.05,
        wrong_pick=0.06, weight_mismatch=0.06, carrier_reject=0.05, unexpected_failure=0.02,
        duplicate=0.25, out_of_order=0.10, cancel=0.06, late_owner=0.4,
        infrastructure=FaultRates(
            dynamodb_throttle=0.05, dynamodb_error=0.01, lambda_service_error=0.03,
            lambda_timeout=0.03, start_execution_outage=0.05, task_callback_outage=0.05,
            crash_after_write=0.01,
        ),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class ClientKit:
    """What a simulated client sells, where its customers live, and how its store delivers."""

    client_id: str
    platform: str
    skus: tuple[Line, ...]
    scarce: Line  # sold out at the start; restocked later
    short_dated: Line | None  # a lot-tracked SKU whose first lot is too close to expiry
    addresses: tuple[PostalAddress, ...]


KITS = {
    "acme-outdoors": ClientKit(
        "acme-outdoors", "shopify",
        (Line("TENT-2P-GRN", "Ridgeline 2P tent", 1, "249.00"),
         Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")),
        Line("LANTERN-LED", "LED camp lantern", 1, "34.00"),
        Line("MEAL-FD-CHILI", "Freeze-dried chili", 2, "11.00"),
        (PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US"),
         PostalAddress("1200 2nd Ave", "Seattle", "WA", "98101", "US"),
         PostalAddress("2001 Broadway", "Oakland", "CA", "94612", "US")),
    ),
    "nordlicht": ClientKit(
        "nordlicht", "woocommerce",
        (Line("LAMP-OAK-S", "Oak table lamp, small", 1, "89.00"),
         Line("VASE-GLASS-M", "Glass vase, medium", 1, "45.00")),
        Line("CANDLE-BEESWAX", "Beeswax candle set", 1, "24.00"), None,
        (PostalAddress("Invalidenstraße 117", "Berlin", "", "10115", "DE"),
         PostalAddress("Schanzenstraße 5", "Hamburg", "", "20357", "DE")),
    ),
    "kite-and-kin": ClientKit(
        "kite-and-kin", "generic",
        (Line("KITE-DELTA-RED", "Delta kite, red", 1, "39.00"),
         Line("LINE-SPOOL-50M", "Kite line, 50 m", 1, "9.00")),
        Line("KITE-BOX-STUNT", "Stunt box kite", 1, "59.00"), None,
        (PostalAddress("14 Park Row", "Leeds", "", "LS1 5HD", "GB"),
         PostalAddress("1 Brick Lane", "London", "", "E1 6AN", "GB")),
    ),
}  # fmt: skip
PEOPLE = (
    Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100"),
    Person("Sam", "Rivera", "sam.rivera@example.com", "+1 206 555 0142"),
    Person("Anna", "Schmidt", "anna.schmidt@example.de", "+49 30 5550123"),
    Person("Priya", "Shah", "priya.shah@example.co.uk", "+44 113 555 0199"),
)


@dataclass
class PlannedOrder:
    n: int
    client_id: str
    at: datetime
    lines: list[Line]
    address: PostalAddress
    person: Person
    faults: set[str]
    intended: PostalAddress | None = None  # where it should go (before a fault spoiled it)
    cancel_after: timedelta | None = None
    order_id: str = ""


@dataclass
class PilotOptions:
    orders: int = 500
    clients: tuple[str, ...] = ALL_CLIENTS
    seed: int = 7
    days: int = 14
    faults: str = "realistic"
    out: Path = Path("pilot-report")
    # The embedded stack no kinder than AWS (roles, limits, contention); False only for the
    # benchmark that measures what that costs.
    strict_emulator: bool = True


def plan(options: PilotOptions) -> list[PlannedOrder]:
    """Which orders arrive when, for whom, with which faults: all from the seed."""
    rng = random.Random(options.seed)
    profile = PROFILES[options.faults]
    hours = [
        PILOT_START.replace(hour=0) + timedelta(days=d, hours=h, minutes=rng.randrange(60))
        for d in range(options.days)
        for h, weight in enumerate(HOURLY)
        for _ in range(weight)
    ]
    hours = [h for h in hours if h >= PILOT_START]
    planned = []
    for n in range(options.orders):
        kit = KITS[options.clients[n % len(options.clients)]]
        faults = {
            name
            for name in (
                "sloppy_address",
                "invalid_address",
                "stock_out",
                "lot_problem",
                "wrong_pick",
                "weight_mismatch",
                "carrier_reject",
                "unexpected_failure",
                "duplicate",
                "out_of_order",
                "cancel",
                "late_owner",
            )
            if rng.random() < getattr(profile, name)
        }
        if "lot_problem" in faults and kit.short_dated is None:
            faults.discard("lot_problem")
        if "carrier_reject" in faults and kit.addresses[0].country_code != "US":
            faults.discard("carrier_reject")  # the sandbox refuses PO boxes in the US
        lines = [rng.choice(kit.skus)]
        if "stock_out" in faults:
            lines.append(kit.scarce)
        if "lot_problem" in faults and kit.short_dated is not None:
            lines = [kit.short_dated]
        address = intended = rng.choice(kit.addresses)
        if "carrier_reject" in faults:
            address = PostalAddress("PO Box 4410", address.city, address.region,
                                    address.postal_code, "US")  # fmt: skip
        elif "invalid_address" in faults:
            address = PostalAddress(address.line1, address.city, address.region, "", address.country_code)  # fmt: skip  # noqa: E501
        elif "sloppy_address" in faults and address.country_code == "US":
            address = PostalAddress(
                "  " + address.line1.lower().replace(" st", " street").replace(" ave", " avenue"),
                address.city.lower(), address.region.lower(), address.postal_code, "US",
            )  # fmt: skip
        cancel_after = timedelta(minutes=rng.randrange(5, 90)) if "cancel" in faults else None
        planned.append(
            PlannedOrder(
                n=n,
                client_id=kit.client_id,
                at=rng.choice(hours),
                lines=lines,
                address=address,
                person=rng.choice(PEOPLE),
                faults=faults,
                intended=intended,
                cancel_after=cancel_after,
            )
        )
    planned.sort(key=lambda o: (o.at, o.n))
    return planned
