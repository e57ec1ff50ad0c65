"""moto gap: retry intervals sleep in real time while the simulated clock runs faster.

ASL ``Retry`` intervals (moto's interpreter) and botocore's retry backoff sleep in real time
under moto; scale them like the simulated clock scales everything else. The retry policies
(attempts, intervals, backoff rates) are unchanged: only the time slept is scaled.
"""

from __future__ import annotations

import time
from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def install(patcher: Patcher, *, factor: float) -> None:
    from botocore import endpoint
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    class _ScaledTime:
        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            time.sleep(seconds * factor)

    patcher.replace(retrier_decl, "time", _ScaledTime())
    patcher.replace(endpoint, "time", _ScaledTime())
