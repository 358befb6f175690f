"""The protocol messages the export stream makes itself: RECORDs, the ESTIMATE trace, the record sink's shape."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterator, Mapping

from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteTraceMessage,
    EstimateType,
    TraceType,
    Type,
)

RECORD = Type.RECORD  # per record: on Python 3.11 `Type.RECORD` is a Python-level EnumType.__getattr__ call

# (stream name, a window's records): consumes them; where a command-line read sends records (run.SourceEntrypoint)
RecordSink = Callable[[str, Iterator[Dict[str, Any]]], None]


class Progress:
    """Days and records done, and the row estimate the Airbyte UI shows as a progress bar."""

    def __init__(self, total_days: int):
        self.total_days = total_days
        self.days_done = 0
        self.records = 0

    def add(self, days: int, records: int) -> None:
        self.days_done += days
        self.records += records

    def estimate_message(self, stream_name: str) -> AirbyteMessage:
        per_day = self.records / max(self.days_done, 1)
        estimate = AirbyteEstimateTraceMessage(name=stream_name, type=EstimateType.STREAM, row_estimate=round(per_day * self.total_days))
        trace = AirbyteTraceMessage(type=TraceType.ESTIMATE, emitted_at=time.time() * 1000, estimate=estimate)
        return AirbyteMessage(type=Type.TRACE, trace=trace)


def record_message(stream: str, data: Mapping[str, Any]) -> AirbyteMessage:
    """The RECORD the CDK would build from `data`, without its copy and no-op schema transform.

    Positional arguments, in the protocol classes' field order (pinned by unit_tests/test_output.py):
    their generated __init__ takes them at half the cost of keywords, and this runs once per event.
    """
    return AirbyteMessage(RECORD, None, None, None, None, AirbyteRecordMessage(stream, data, time.time_ns() // 1_000_000))  # type: ignore[arg-type]
