"""moto gap: every execution parses its state machine's ASL again.

moto parses the state machine's ASL (an ANTLR grammar in pure Python) and builds its
evaluation components again for every execution it starts, about half of an order's cost
here. A definition's components never change while it runs: each execution keeps its own
state (retry counts included) in its own environment, keyed by component. Build them once per
definition, and parse each JSONPath once rather than at every step.

The caches are kept for the process (a definition parsed under one runtime is not parsed again
under the next, which builds the same definition); what is removed on exit is the patch, so
moto parses for itself again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"

_CACHED: dict[Callable[..., Any], Callable[..., Any]] = {}


def _cached(function: Callable[..., Any], maxsize: int) -> Callable[..., Any]:
    """The same cache of ``function`` each time the patch is installed."""
    if function not in _CACHED:
        _CACHED[function] = lru_cache(maxsize=maxsize)(function)
    return _CACHED[function]


def install(patcher: Patcher) -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.utils import json_path

    parser = asl_parser.AmazonStateLanguageParser
    patcher.replace(parser, "parse", staticmethod(_cached(parser.parse, 64)))
    for module in (json_path, result_path):
        patcher.replace(module, "parse", _cached(module.parse, 4096))
