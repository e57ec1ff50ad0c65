"""moto gaps: a new alarm starts in OK, its state changes leave no readable history, and its
times are the wall clock's.

On AWS, PutMetricAlarm creates an alarm in INSUFFICIENT_DATA ("Unchecked: Initial alarm
creation") until its first evaluation, and DescribeAlarmHistory returns what happened to it:
a ``ConfigurationUpdate`` item when it was created or changed, a ``StateUpdate`` item each time
its state changed (SetAlarmState or an evaluation), with ``HistoryData`` holding the old and
the new state. moto 5.2.5 starts an alarm in OK and has no DescribeAlarmHistory. Here a new
alarm starts as on AWS, every state change (SetAlarmState, the runtime's alarm evaluation)
is recorded, and DescribeAlarmHistory answers from that record (filtered by alarm name, item
type and date range, newest first unless ``ScanBy`` says otherwise). Every time is the
runtime's clock, so an alarm's history reads on the same time line as the stack it watches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"

INITIAL_REASON = "Unchecked: Initial alarm creation"


def _item(alarm: Any, at: datetime, kind: str, summary: str, data: dict[str, Any]) -> None:
    alarm.history.append({
        "AlarmName": alarm.name,
        "AlarmType": "CompositeAlarm" if alarm.rule is not None else "MetricAlarm",
        "Timestamp": at,
        "HistoryItemType": kind,
        "HistorySummary": summary,
        "HistoryData": json.dumps(data),
    })  # fmt: skip


def install(patcher: Patcher, *, clock: Callable[[], datetime]) -> None:
    from moto.cloudwatch.models import Alarm, CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    put_metric_alarm = CloudWatchBackend.put_metric_alarm

    def put_alarm(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        existed = name in self.alarms
        previous = self.alarms[name] if existed else None
        alarm = put_metric_alarm(self, name, *args, **kwargs)
        now = clock()
        alarm.configuration_updated_timestamp = now
        if previous is None:
            alarm.state_value, alarm.state_reason = "INSUFFICIENT_DATA", INITIAL_REASON
            alarm.state_reason_data = "{}"
            alarm.state_updated_timestamp = now
            alarm.history = []
            _item(alarm, now, "ConfigurationUpdate", f'Alarm "{name}" created',
                  {"type": "Create", "version": "1.0"})  # fmt: skip
        else:
            # Updating an alarm leaves its state as it was (PutMetricAlarm's documentation).
            alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
            alarm.state_reason_data = previous.state_reason_data
            alarm.state_updated_timestamp = previous.state_updated_timestamp
            alarm.history = previous.history
            _item(alarm, now, "ConfigurationUpdate", f'Alarm "{name}" updated',
                  {"type": "Update", "version": "1.0"})  # fmt: skip
        return alarm

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        old_value, old_reason = self.state_value, self.state_reason
        now = clock()
        self.state_reason, self.state_reason_data = reason, reason_data
        self.state_value, self.state_updated_timestamp = state_value, now
        if state_value == old_value:
            return
        new_state: dict[str, Any] = {"stateValue": state_value, "stateReason": reason}
        if reason_data:
            new_state["stateReasonData"] = json.loads(reason_data)
        _item(self, now, "StateUpdate", f"Alarm updated from {old_value} to {state_value}", {
            "version": "1.0",
            "oldState": {"stateValue": old_value, "stateReason": old_reason},
            "newState": new_state,
        })  # fmt: skip

    def describe_alarm_history(self: Any) -> Any:
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        types = self._get_param("AlarmTypes") or ["MetricAlarm", "CompositeAlarm"]
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        limit = self._get_param("MaxRecords") or 100
        alarms = self.cloudwatch_backend.alarms
        chosen = [alarms[name]] if name in alarms else [] if name else list(alarms.values())
        items = [
            item
            for alarm in chosen
            for item in alarm.history
            if isinstance(item, dict)
            and (kind is None or item["HistoryItemType"] == kind)
            and item["AlarmType"] in types
            and (start is None or item["Timestamp"] >= _aware(start))
            and (end is None or item["Timestamp"] <= _aware(end))
        ]
        ascending = self._get_param("ScanBy") == "TimestampAscending"
        items.sort(key=lambda i: i["Timestamp"], reverse=not ascending)
        return ActionResult({"AlarmHistoryItems": items[: int(limit)]})

    patcher.replace(CloudWatchBackend, "put_metric_alarm", put_alarm)
    patcher.replace(Alarm, "update_state", update_state)
    patcher.watch(CloudWatchResponse)  # the action added below goes again on restore
    CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]


def _aware(value: Any) -> datetime:
    from datetime import UTC

    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
