"""The QA gates' checks, as pure functions: each says what it checked and what failed.

The fulfilment steps run them, store the discrete result on the order (with the gate's owner
and remediation from the client's configuration) and open ``qa_failed`` when one fails.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from shipshape.config import ClientConfig
from shipshape.models import NO_LOT, Label, Order, PackData, ParcelExpectation, SkuMaster
from shipshape.services.documents import STANDARD_BOXES
from shipshape.services.inventory import lot_key


@dataclass
class Verdict:
    checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    refused_lots: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def pre_pick(
    order: Order, skus: dict[str, SkuMaster], client: ClientConfig, today: date
) -> Verdict:
    """SKU exists and is active; lot-tracked SKUs come from a recorded lot with enough
    shelf life left for the client."""
    verdict = Verdict()
    minimum = client.fulfilment.min_shelf_life_days
    for sku in sorted({line.sku for line in order.lines}):
        master = skus.get(sku)
        verdict.checks.append(f"{sku}: in the SKU master and active")
        if master is None:
            verdict.failures.append(f"{sku} is not in the SKU master")
            continue
        if not master.active:
            verdict.failures.append(f"{sku} is inactive in the SKU master")
        missing = master.missing_for_fulfilment()
        verdict.checks.append(f"{sku}: barcode, weight and dimensions recorded for pick and pack")
        if missing:
            # Known from the storefront, not yet measured by the warehouse: the pick and pack
            # checks would have nothing to compare with, so the order stops here, not after
            # a picker walked for it.
            verdict.failures.append(
                f"{sku} has no {', '.join(missing)} in the SKU master; the warehouse sends "
                "them with sku_updated, then retry"
            )
        if not master.lot_tracked:
            continue
        verdict.checks.append(f"{sku}: lot recorded, at least {minimum} days of shelf life")
        for allocation in (a for a in order.reservation if a.sku == sku):
            key = lot_key(allocation.sku, allocation.warehouse, allocation.lot)
            if allocation.lot == NO_LOT or allocation.expires_on is None:
                verdict.failures.append(f"{sku} is lot-tracked but its stock has no lot/expiry")
                verdict.refused_lots.append(key)
                continue
            left = (allocation.expires_on - today).days
            if left < minimum:
                verdict.failures.append(
                    f"{sku} lot {allocation.lot} expires {allocation.expires_on.isoformat()} "
                    f"({left} days left, the client requires {minimum})"
                )
                verdict.refused_lots.append(key)
    return verdict


def post_pick(order: Order, skus: dict[str, SkuMaster]) -> Verdict:
    """Every unit on the pick list was scanned, with the SKU's own barcode; nothing else was."""
    verdict = Verdict(checks=["every unit scanned against the pick list, barcodes match"])
    expected: dict[str, int] = defaultdict(int)
    for entry in order.pick_list.entries if order.pick_list else ():
        expected[entry.sku] += entry.quantity
    scanned: dict[str, int] = defaultdict(int)
    for scan in order.pick_scans:
        scanned[scan.sku] += scan.quantity
        master = skus.get(scan.sku)
        if not scan.barcode:
            verdict.failures.append(f"{scan.quantity} unit(s) of {scan.sku} picked without a scan")
        elif master is not None and master.barcode is None:
            verdict.failures.append(f"{scan.sku} has no barcode in the SKU master to match")
        elif master is not None and scan.barcode != master.barcode:
            verdict.failures.append(
                f"barcode {scan.barcode} scanned as {scan.sku} belongs to another product"
            )
    for sku in sorted(set(expected) | set(scanned)):
        want, got = expected.get(sku, 0), scanned.get(sku, 0)
        if want == 0:
            verdict.failures.append(f"{sku} is not on the pick list ({got} unit(s) scanned)")
        elif got < want:
            verdict.failures.append(f"{sku}: {want - got} unit(s) missing ({got} of {want})")
        elif got > want:
            verdict.failures.append(f"{sku}: {got - want} extra unit(s) ({got} for {want})")
    return verdict


def parcel_expectation(
    order: Order, skus: dict[str, SkuMaster], client: ClientConfig
) -> ParcelExpectation:
    """What the SKUs add up to, with the client's tolerance and packaging allowance."""
    weight = volume = 0
    largest = (0, 0, 0)
    for line in order.lines:
        master = skus[line.sku]
        grams, length, width, height = (
            master.unit_weight_grams, master.length_mm, master.width_mm, master.height_mm
        )  # fmt: skip
        if grams is None or length is None or width is None or height is None:
            raise ValueError(f"{line.sku} lacks {', '.join(master.missing_for_fulfilment())}")
        weight += grams * line.quantity
        volume += length * width * height * line.quantity
        dims = tuple(sorted((length, width, height), reverse=True))
        largest = tuple(max(a, b) for a, b in zip(largest, dims, strict=True))  # type: ignore[assignment]
    rules = client.fulfilment
    tolerance = rules.weight_tolerance_percent / 100
    box = next(
        (b for b in STANDARD_BOXES if _fits(largest, b) and b[0] * b[1] * b[2] >= volume * 1.25),
        STANDARD_BOXES[-1],
    )
    return ParcelExpectation(
        items_weight_grams=weight,
        min_weight_grams=int(weight * (1 - tolerance)),
        max_weight_grams=int(weight * (1 + tolerance)) + rules.packaging_allowance_grams,
        items_volume_mm3=volume,
        largest_item_mm=largest,
        max_box_volume_mm3=int(max(volume * rules.max_box_to_items_volume, _volume(box))),
        suggested_box_mm=box,
    )


def _fits(item: tuple[int, int, int], box: tuple[int, int, int]) -> bool:
    return all(i <= b for i, b in zip(sorted(item), sorted(box), strict=True))


def _volume(dims: tuple[int, int, int]) -> int:
    return dims[0] * dims[1] * dims[2]


def packing(parcel: ParcelExpectation, pack: PackData) -> Verdict:
    """Measured weight within tolerance of the SKUs' weight; the box holds the items and is
    not absurdly large for them."""
    verdict = Verdict(
        checks=[
            f"weight {parcel.min_weight_grams}-{parcel.max_weight_grams} g",
            "box holds the largest item and the items' volume",
            f"box volume at most {parcel.max_box_volume_mm3} mm3",
        ]
    )
    if not parcel.min_weight_grams <= pack.weight_grams <= parcel.max_weight_grams:
        verdict.failures.append(
            f"weighs {pack.weight_grams} g; expected {parcel.min_weight_grams}-"
            f"{parcel.max_weight_grams} g (items {parcel.items_weight_grams} g)"
        )
    box = (pack.length_mm, pack.width_mm, pack.height_mm)
    if not _fits(parcel.largest_item_mm, box) or _volume(box) < parcel.items_volume_mm3:
        verdict.failures.append(
            f"a {box[0]}x{box[1]}x{box[2]} mm box cannot hold the items "
            f"(largest {'x'.join(map(str, parcel.largest_item_mm))} mm)"
        )
    elif _volume(box) > parcel.max_box_volume_mm3:
        verdict.failures.append(
            f"a {box[0]}x{box[1]}x{box[2]} mm box is too large for the items (volume "
            f"{_volume(box)} mm3 > {parcel.max_box_volume_mm3} mm3)"
        )
    return verdict


def shipping(order: Order, label: Label, client: ClientConfig) -> Verdict:
    """The label is for this address and an allowed service; its transit time meets the
    client's promised delivery."""
    address = order.standardized_address or order.shipping_address
    promised = client.fulfilment.promised_transit_days
    verdict = Verdict(
        checks=[
            "label destination matches the order's address",
            "service is one the client ships with",
            f"transit at most {promised} days",
        ]
    )
    if address is None or (
        label.destination_country != address.country_code
        or (label.destination_postal_code or "") != (address.postal_code or "")
    ):
        verdict.failures.append("the label is not addressed to the order's shipping address")
    if label.service not in client.fulfilment.services:
        verdict.failures.append(f"service {label.service} is not one the client ships with")
    if label.transit_days > promised:
        verdict.failures.append(
            f"{label.service} takes {label.transit_days} days; the client promises {promised}"
        )
    return verdict
