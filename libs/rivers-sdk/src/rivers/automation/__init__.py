"""Automation: schedules, sensors and automation conditions (evaluated by the daemon)."""

from rivers.automation.condition import AutomationCondition
from rivers.automation.requests import (
    AddDynamicPartitionsRequest,
    BackfillRequest,
    DeleteDynamicPartitionsRequest,
    RunRequest,
    SensorResult,
    SkipReason,
)
from rivers.automation.schedule import Schedule, ScheduleContext
from rivers.automation.sensor import Sensor, SensorContext

__all__ = [
    "AddDynamicPartitionsRequest",
    "AutomationCondition",
    "BackfillRequest",
    "DeleteDynamicPartitionsRequest",
    "RunRequest",
    "Schedule",
    "ScheduleContext",
    "Sensor",
    "SensorContext",
    "SensorResult",
    "SkipReason",
]
