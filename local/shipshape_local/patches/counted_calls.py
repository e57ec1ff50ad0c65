"""AWS behaviour: every API call is billed (and logged) by ``service.Operation``.

The AWS API calls made while the emulator answers them are counted by operation, for the run
(what a pilot asked of AWS; its costs are computed from it), and charged to the subject the
meter is serving (an order, the shared sweeper). Calls made outside the mock are not counted.
"""

from __future__ import annotations

from typing import Any, Protocol

from shipshape_local.metering import Meter
from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


class CallListener(Protocol):
    def made(self, service: str, operation: str) -> None: ...


def install(patcher: Patcher, *, calls: CallListener, meter: Meter) -> None:
    from botocore.client import BaseClient
    from moto.core.models import botocore_stubber

    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, untyped in stubs

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        if botocore_stubber.enabled:
            service = self.meta.service_model.service_name
            calls.made(service, operation_name)
            subject = meter.current()
            if subject is not None:
                meter.called(subject, f"{service}.{operation_name}")
        return original(self, operation_name, api_params)

    patcher.replace(BaseClient, "_make_api_call", counted)
