"""The system clock behind the Clock port (``system://``)."""

from __future__ import annotations

import datetime
import time
from typing import Any


class SystemClock:
    """Local wall time (timezone-aware) and the monotonic clock of the OS."""

    def now(self) -> datetime.datetime:
        return datetime.datetime.now().astimezone()

    def monotonic(self) -> float:
        return time.monotonic()


def open_url(kind: str, url: Any, **options: Any) -> SystemClock:
    return SystemClock()
