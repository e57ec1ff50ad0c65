"""AWS behaviour: each DynamoDB item request consumes capacity units by the items it touches.

Every item request made for a subject (an order) is charged with the read and write units it
consumes, computed from the items it names as the table holds them before and after. How is
``shipshape_local.metering``; this module installs its hooks on moto's ``DynamoHandler`` and
removes them again.
"""

from __future__ import annotations

import threading

from shipshape_local import metering
from shipshape_local.metering import Meter
from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def install(patcher: Patcher, *, meter: Meter, lock: threading.RLock) -> None:
    from moto.dynamodb.responses import DynamoHandler

    patcher.watch(DynamoHandler)
    metering.install(meter, lock)
