"""moto gap: a Step Functions task pays for a new boto3 client every time it runs.

moto's Step Functions interpreter builds a new boto3 client for every Lambda task it runs
(tens of milliseconds each, most of a step's cost here). Lambda's own service keeps its
connections; one client per region and service, for as long as the patch is installed, does
the same for the emulator.
"""

from __future__ import annotations

import threading
from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def install(patcher: Patcher) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    build = boto_client.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def reused(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = build(region, service, state_credentials)
            return clients[(region, service)]

    patcher.replace(lambda_eval_utils, "boto_client_for", reused)
