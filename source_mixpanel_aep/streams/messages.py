"""What the export stream says besides records: the ESTIMATE trace, and the events it could not deliver."""

from __future__ import annotations

import logging
from typing import Dict, List, Tuple

from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    EstimateType,
    TraceType,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..cdk.errors import system_error
from ..clock import SYSTEM_CLOCK, Clock
from .windows import Window

MAX_LISTED = 20  # positions named per window in logs and in the final error; the rest are counted


class Progress:
    """Days and records done, and the row estimate the Airbyte UI shows as a progress bar."""

    def __init__(self, total_days: int, clock: Clock = SYSTEM_CLOCK):
        self.total_days = total_days
        self._clock = clock  # the ESTIMATE's emitted_at
        self.days_done = 0.0
        self.records = 0

    def add(self, days: float, records: int) -> None:
        self.days_done = round(self.days_done + days, 3)
        self.records += records

    def estimate_message(self, stream_name: str) -> AirbyteMessage:
        per_day = self.records / max(self.days_done, 1)
        estimate = AirbyteEstimateTraceMessage(name=stream_name, type=EstimateType.STREAM, row_estimate=round(per_day * self.total_days))
        trace = AirbyteTraceMessage(type=TraceType.ESTIMATE, emitted_at=self._clock.time() * 1000, estimate=estimate)
        return AirbyteMessage(type=Type.TRACE, trace=trace)


class WindowLosses:
    """The events of one window (one read of it) that could not become records: where, and why."""

    def __init__(self, window: Window):
        self.window = window
        self.positions: List[Tuple[str, str]] = []
        self.delivered = 0  # events of this read that did become records

    def add(self, position: str, why: str) -> None:
        self.positions.append((position, why))

    @property
    def label(self) -> str:
        return self.window.label

    def listed(self) -> str:
        shown = "; ".join(f"{position}: {why}" for position, why in self.positions[:MAX_LISTED])
        more = len(self.positions) - MAX_LISTED
        return shown + (f"; and {more} more" if more > 0 else "")


class Undelivered:
    """Exported events that could not become records, across a read.

    They are never dropped quietly: each window's are logged as a WARN when it completes, and a read
    that had any ends with a system_error naming every window, position and reason, after the state
    of everything that was delivered (so the sync exits non-zero and nothing delivered is lost).
    """

    def __init__(self) -> None:
        self._windows: Dict[Tuple[str, str], WindowLosses] = {}
        self._current: WindowLosses | None = None

    def for_window(self, window: Window) -> WindowLosses:
        """The window's list, afresh: a re-read of a window replaces what its earlier read found."""
        self._current = self._windows[window.label] = WindowLosses(window)
        return self._current

    def discard(self, window: Window) -> None:
        """A read that broke off: its parts are read again, and what they find is what counts."""
        self._windows.pop(window.label, None)
        self._current = None

    def report_window(self, logger: logging.Logger) -> None:
        current = self._current
        if current is not None and current.positions:
            logger.warning(f"{current.label}: {len(current.positions)} event(s) could not become records and were not delivered: {current.listed()}")

    @property
    def count(self) -> int:
        return sum(len(losses.positions) for losses in self._windows.values())

    def __bool__(self) -> bool:
        return self.count > 0

    def error(self) -> AirbyteTracedException:
        windows = [losses for losses in self._windows.values() if losses.positions]
        detail = " | ".join(f"{losses.label}: {losses.listed()}" for losses in windows)
        message = (
            f"{self.count} exported event(s) could not become records and were not delivered (every other event was, and "
            f"its state was saved): {detail}. These events are unusable as exported (see each reason); report them to Mixpanel "
            "or to this connector's maintainers."
        )
        return system_error(message)
