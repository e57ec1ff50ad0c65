"""AWS behaviour: a bad day's faults (throttling, 5xx, timeouts, outages, crashes), at set
rates, answered where AWS answers them.

Every request the emulator answers goes past the fault injector the runtime has armed (none:
moto answers as it would). What is injected, and why there, is ``shipshape_local.faults``;
this module installs its hook on moto's ``BotocoreStubber`` and removes it again.
"""

from __future__ import annotations

from collections.abc import Callable

from shipshape_local import faults
from shipshape_local.faults import FaultInjector
from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def install(patcher: Patcher, *, injector: Callable[[], FaultInjector | None]) -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    patcher.keep(BotocoreStubber, "__call__")
    faults.install(injector)
