"""The embedded runtime: the whole stack on moto, in one process, with no AWS account.

It builds what ``template.yaml`` declares: the DynamoDB tables from their key schemas, the
functions (run in-process through ``lambdas``), the Standard state machine from its ASL file
with ``DefinitionSubstitutions`` resolved, and the secrets of the demo clients. ``http()``
then plays API Gateway (HTTP API, payload format 2.0) in front of the real handlers.

This module is the runtime's front; each job lives in its own module: ``lifecycle`` (start and
stop, ``EmbeddedRuntime``), ``stack`` (the resources from the template), ``gateway`` (API
Gateway in front of the handlers) and ``patches`` (moto's internals, patched for the
runtime's lifetime). What was importable from here still is.
"""

from __future__ import annotations

from shipshape_local.gateway import API_BODY_LIMIT, HttpResponse
from shipshape_local.lifecycle import (
    DEV_SECRETS,
    SEED,
    Calls,
    EmbeddedRuntime,
    ManualClock,
    RecordingWarehouseChannel,
    Writes,
)
from shipshape_local.stack import ACCOUNT, REGION

__all__ = [
    "ACCOUNT",
    "API_BODY_LIMIT",
    "DEV_SECRETS",
    "REGION",
    "SEED",
    "Calls",
    "EmbeddedRuntime",
    "HttpResponse",
    "ManualClock",
    "RecordingWarehouseChannel",
    "Writes",
]
