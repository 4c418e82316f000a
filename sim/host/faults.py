"""Fault injection: armed from the rules file or from tests through ``host.faults``.

A fault is consumed by the next request that matches it (MTI filter, ``count`` times).
``process=True`` (default) means the host still processes and records the request and
only the delivery of the response goes wrong - the case a terminal must reverse.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass


class Fault(enum.Enum):
    REFUSE = "refuse"  # listener closed for `seconds`: connects get ECONNREFUSED
    DELAY = "delay"  # answer after `seconds`
    NEVER = "never"  # never answer this request (connection stays open)
    DROP = "drop"  # send part of the frame, then close the connection
    GARBLE = "garble"  # a frame of the right length whose body does not decode
    BAD_MAC = "bad_mac"  # a well-formed response whose MAC does not verify
    AFTER_REVERSAL = "after_reversal"  # hold the answer until the 0400 for it arrives


@dataclass(frozen=True, slots=True)
class ArmedFault:
    fault: Fault
    seconds: float = 0.0
    mti: str | None = None
    process: bool = True


class Faults:
    """Thread-safe queue of armed faults plus the ``declines`` switch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[ArmedFault] = deque()
        self.declines = False
        self._refuse_until = 0.0
        self.fired: list[tuple[Fault, str]] = []  # (fault, request MTI) in firing order

    def next(
        self,
        fault: Fault | str,
        *,
        seconds: float = 0.0,
        mti: str | None = None,
        count: int = 1,
        process: bool = True,
    ) -> None:
        """Arm ``fault`` for the next ``count`` matching requests (or, for REFUSE, now)."""
        fault = Fault(fault)
        if fault is Fault.REFUSE:
            self.refuse(seconds or 1.0)
            return
        with self._lock:
            for _ in range(count):
                self._queue.append(ArmedFault(fault, seconds, mti, process))

    def refuse(self, seconds: float) -> None:
        with self._lock:
            self._refuse_until = time.monotonic() + seconds

    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    def take(self, mti: str) -> ArmedFault | None:
        """The first armed fault matching ``mti``, removed from the queue."""
        with self._lock:
            for armed in self._queue:
                if armed.mti is None or armed.mti == mti:
                    self._queue.remove(armed)
                    self.fired.append((armed.fault, mti))
                    return armed
        return None

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._refuse_until = 0.0
            self.declines = False
