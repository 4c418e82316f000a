"""Where a keypad's keys go: the event queue, or the PIN sink in secure PIN mode.

Every keypad driver (matrix, TTY, simulator) routes through this one switch, so
the rule "in PIN mode no key reaches the queue" is written once.
"""

from __future__ import annotations

import threading

from hal.errors import HalError
from hal.events import EventQueue, Key, KeyPressed
from hal.ports import PinSink


class KeyRouteError(HalError):
    """A key arrived with nowhere to go (the keypad was never attached)."""


class KeyRouter:
    """Sends keys to the event queue, or to the PIN sink while secure PIN mode is on."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._queue: EventQueue | None = None
        self._sink: PinSink | None = None
        self._lock = threading.Lock()

    def attach(self, queue: EventQueue) -> None:
        self._queue = queue

    def set_pin_sink(self, sink: PinSink | None) -> None:
        with self._lock:
            self._sink = sink

    def press(self, key: Key) -> None:
        with self._lock:
            sink, queue = self._sink, self._queue
        if sink is not None:
            sink.pin_key(key)
        elif queue is not None:
            queue.put(KeyPressed(source=self.source, key=key))
        else:
            raise KeyRouteError(f"{self.source}: key pressed before attach()")
