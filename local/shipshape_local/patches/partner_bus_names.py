"""moto gaps: a partner event bus's name has slashes, and moto cuts it at the last one; and
the event a rule hands its target has no ``account``.

AWS names a partner event bus as the partner event source it is associated with
(``aws.partner/shopify.com/<app id>/<source name>``), and every Events API call that takes an
``EventBusName`` accepts that name or the bus's ARN. moto turns either into a bus name by
keeping what follows the last ``/``, so PutRule, PutTargets and PutEvents on a partner bus
look for a bus named ``<source name>`` and find none. Here a name is kept whole and an ARN
gives what follows ``event-bus/``, as AWS reads them.

A rule's target without an input transformer gets the whole event, ``account`` (the account
the event was put in) included; moto's default input template leaves ``account`` out, which a
consumer that checks where an event was delivered (Shopify's EventBridge front door) needs.
"""

from __future__ import annotations

from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def bus_name(value: str | None) -> str:
    """The bus an ``EventBusName`` parameter names (a name or an ARN); absent: the default."""
    if value is None:
        return "default"
    if value.startswith("arn:") and ":event-bus/" in value:
        return value.split(":event-bus/", 1)[1]
    return value


def install(patcher: Patcher) -> None:
    from moto.events.models import EventsBackend
    from moto.events.utils import EventTemplateParser

    def normalize(self: Any, event_bus_arn: str | None) -> str:
        return bus_name(event_bus_arn)

    patcher.replace(EventsBackend, "_normalize_event_bus_arn", normalize)
    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in template:
        whole = template.replace('"version": "0", ', '"version": "0", "account": "<account>", ')
        if whole == template:
            raise AttributeError("moto's default event input template changed; re-verify")
        patcher.replace(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", whole)
