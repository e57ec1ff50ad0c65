"""The warehouse's part, simulated: answer an order's wait for pick scans or pack data through
the real warehouse route, as a warehouse system would. Used by the demo and the tests."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from shipshape.models import FINAL_STATUSES, OrderStatus

# send(method, path, headers, body) -> (status, json body)
Send = Callable[[str, str, dict[str, str], bytes | None], tuple[int, dict[str, Any]]]

# Nothing left for the warehouse: final, or held for ops to decide.
DONE_STATUSES = FINAL_STATUSES | {OrderStatus.ON_HOLD}


def barcode(sku: str) -> str:
    """A stable 12-digit UPC-like barcode per SKU."""
    return f"0{zlib.crc32(sku.encode()) % 10**11:011d}"


class WarehouseSimulator:
    def __init__(self, send: Send, warehouse_tokens: dict[str, str], operator_token: str) -> None:
        self._send = send
        self._tokens = warehouse_tokens
        self._operator = {"Authorization": f"Bearer {operator_token}"}
        self.events_sent: list[dict[str, Any]] = []

    def order(self, order_id: str) -> dict[str, Any]:
        return self._send("GET", f"/orders/{order_id}", self._operator, None)[1]

    def pick_event(self, view: dict[str, Any]) -> dict[str, Any]:
        """A picker who works the pick list bin by bin and scans every unit."""
        entries = (view.get("pick_list") or {}).get("entries") or [
            {"sku": ln["sku"], "barcode": barcode(ln["sku"]), "quantity": ln["quantity"]}
            for ln in view["lines"]
        ]
        return {
            "type": "pick_scans",
            # One id per wait: a resend while the order still shows the same wait is a
            # duplicate; a new wait (after a failed gate) gets a new id.
            "event_id": f"pick-{view['order_id']}-{view.get('audit_events', 0)}",
            "order_id": view["order_id"],
            "picker": view.get("picker") or "picker",
            "scans": [
                {"sku": e["sku"], "barcode": e["barcode"], "quantity": e["quantity"]}
                for e in entries
            ],
        }

    def pack_event(self, view: dict[str, Any]) -> dict[str, Any]:
        """A packer who uses the suggested box; the scale reads items plus packaging."""
        parcel = view.get("parcel") or {}
        low, high = parcel.get("min_weight_grams", 400), parcel.get("max_weight_grams", 400)
        box = parcel.get("suggested_box_mm") or [400, 300, 150]
        return {
            "type": "pack_data",
            "event_id": f"pack-{view['order_id']}-{view.get('audit_events', 0)}",
            "order_id": view["order_id"],
            "packer": "packer-1",
            "pack": {
                "weight_grams": (low + high) // 2,
                "length_mm": box[0],
                "width_mm": box[1],
                "height_mm": box[2],
            },
        }

    def post(self, client_id: str, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = {
            "Authorization": f"Bearer {self._tokens[client_id]}",
            "Content-Type": "application/json",
        }
        self.events_sent.append(event)
        return self._send(
            "POST", f"/warehouse/{client_id}/events", headers, json.dumps(event).encode()
        )

    def act(self, order_id: str) -> str:
        """Do whatever the order waits for; return its status as read."""
        view = self.order(order_id)
        status = str(view.get("status"))
        if status == "AWAITING_PICK":
            self.post(view["client_id"], self.pick_event(view))
        elif status == "AWAITING_PACK":
            self.post(view["client_id"], self.pack_event(view))
        return status

    def run(
        self,
        order_ids: Iterable[str],
        timeout: float = 30.0,
        on_final: Callable[[str, str], None] | None = None,
    ) -> dict[str, str]:
        """Play the warehouse until every order is final (or the timeout); final statuses."""
        pending = list(dict.fromkeys(order_ids))
        final: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for order_id in list(pending):
                status = self.act(order_id)
                if status in DONE_STATUSES:
                    final[order_id] = status
                    pending.remove(order_id)
                    if on_final:
                        on_final(order_id, status)
            time.sleep(0.01)
        for order_id in pending:
            final[order_id] = str(self.order(order_id).get("status"))
        return final
