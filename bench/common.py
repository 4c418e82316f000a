"""What every benchmark module returns, and small timing helpers.

A benchmark module is ``bench/bench_<area>.py`` with ``run(quick: bool) -> list[Result]``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    issue: int
    name: str
    measured: str  # e.g. "0.41 ms median"
    target: str  # the issue's target, e.g. "<= 1 ms median"
    met: bool | None  # None when the issue sets no target
    peer: str = ""  # e.g. "psec: 0.9 ms median", measured in the same run
    note: str = ""


def median_seconds(action: Callable[[], object], repeat: int, warmup: int = 10) -> float:
    """Median wall time of one call of ``action`` over ``repeat`` timed calls."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def per_call_seconds(action: Callable[[], object], number: int, rounds: int = 5) -> float:
    """Best-of-rounds mean time per call, for operations too short to time singly."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            action()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


class RecordingTransport:
    """Passes APDUs to a live card and records each exchange (and the card's CPU time),
    so a benchmark can replay the session and time the terminal side alone."""

    def __init__(self, card: object) -> None:
        self.card = card
        self.exchanges: list[tuple[bytes, bytes]] = []
        self.card_cpu = 0.0

    def transmit(self, apdu: bytes) -> bytes:
        start = time.process_time()
        response: bytes = self.card.transmit(apdu)  # type: ignore[attr-defined]
        self.card_cpu += time.process_time() - start
        self.exchanges.append((apdu, response))
        return response


class ReplayTransport:
    """Answers a recorded session; a different command means the run diverged."""

    def __init__(self, exchanges: list[tuple[bytes, bytes]]) -> None:
        self.exchanges = exchanges
        self.position = 0

    def transmit(self, apdu: bytes) -> bytes:
        expected, response = self.exchanges[self.position]
        if apdu != expected:
            raise AssertionError(f"replay diverged at exchange {self.position}")
        self.position += 1
        return response
