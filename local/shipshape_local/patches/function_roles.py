"""AWS behaviour: a function calls AWS with its own role, and a call the role does not allow is
refused (``AccessDeniedException``).

moto checks identity policies only where it maps a request to its resource (SQS, IAM, STS);
every other service's action is checked against ``*``, which no statement scoped to an ARN
matches, so its authorization cannot be switched on for this stack. The check is made as the
call leaves the process instead: ``authorize(service, operation, params)`` (see
``shipshape_local.roles``) refuses what the running function's policies do not grant, before
the request is sent. Outside the mock, calls go out as ever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"

Authorizer = Callable[[str, str, Mapping[str, Any]], None]


def install(patcher: Patcher, *, authorize: Callable[[], Authorizer | None]) -> None:
    from botocore.client import BaseClient
    from moto.core.models import botocore_stubber

    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, untyped in stubs

    def authorized(self: Any, operation_name: str, api_params: Any) -> Any:
        check = authorize()
        if check is not None and botocore_stubber.enabled:
            check(self.meta.service_model.service_name, operation_name, api_params)
        return original(self, operation_name, api_params)

    patcher.replace(BaseClient, "_make_api_call", authorized)
