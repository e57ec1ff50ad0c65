"""moto gap: requests that never leave the process are still signed.

While moto answers every request in-process, SigV4 signing is work nobody checks (a tenth of
each call's cost here): skip it then, and only then. moto reads the region from the endpoint's
host name and the account from its default. Outside the mock, requests are signed as ever.
"""

from __future__ import annotations

from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def install(patcher: Patcher) -> None:
    from botocore.signers import RequestSigner
    from moto.core.models import botocore_stubber

    original = RequestSigner.sign

    def sign(self: Any, *args: Any, **kwargs: Any) -> Any:
        if botocore_stubber.enabled:
            return None
        return original(self, *args, **kwargs)

    patcher.replace(RequestSigner, "sign", sign)
