"""Issue 7: key press → display update through the one event queue.

A keypad press posts KeyPressed from the caller's thread; a state-machine thread
blocked on ``EventQueue.get`` takes it, redraws the amount on the ANSI TTY display
driver (into memory) and signals back. Timed from press to the redraw being done:
two thread hand-offs, the queue, the layout and the ANSI rendering.
"""

from __future__ import annotations

import io
import statistics
import threading
import time

from bench.common import Result, fmt_time
from hal.display import TtyDisplay
from hal.events import EventQueue, Key, KeyPressed
from hal.ports import Align, TextLine
from sim.devices import SimKeypad


def _press_to_display(samples: int) -> list[float]:
    queue = EventQueue()
    keypad = SimKeypad()
    keypad.attach(queue)
    display = TtyDisplay(io.StringIO(), columns=21, rows=8)
    drawn = threading.Event()
    stop = threading.Event()

    def state_machine() -> None:
        amount = ""
        while not stop.is_set():
            event = queue.get(timeout=0.5)
            if isinstance(event, KeyPressed):
                amount = (amount + event.key.value)[-9:] if event.key.is_digit else ""
                display.show(
                    [
                        TextLine("SALE", Align.CENTER, bold=True),
                        TextLine(amount or "0", Align.RIGHT),
                    ]
                )
                drawn.set()

    thread = threading.Thread(target=state_machine, daemon=True)
    thread.start()
    timings: list[float] = []
    try:
        for index in range(samples):
            drawn.clear()
            start = time.perf_counter()
            keypad.press([Key.D1 if index % 10 else Key.CLEAR])
            if not drawn.wait(2):
                raise RuntimeError("display was not updated within 2 s")
            timings.append(time.perf_counter() - start)
    finally:
        stop.set()
        thread.join(timeout=2)
    return timings[min(50, samples // 10) :]  # drop warm-up


def run(quick: bool) -> list[Result]:
    timings = _press_to_display(300 if quick else 3000)
    median = statistics.median(timings)
    p99 = sorted(timings)[int(len(timings) * 0.99) - 1]
    return [
        Result(
            issue=7,
            name="key press → display update via event queue",
            measured=f"{fmt_time(median)} median",
            target="<= 5 ms median",
            met=median <= 0.005,
            note=f"p99 {fmt_time(p99)}, {len(timings)} presses, "
            "SimKeypad → EventQueue → TtyDisplay (ANSI)",
        )
    ]
