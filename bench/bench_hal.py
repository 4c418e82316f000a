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


def _pcsc_round_trip(repeat: int) -> Result | None:
    """hal.pcsc transmit vs pyscard's own connection, same virtual card, same run."""
    import fcntl

    from bench.common import median_seconds
    from hal.pcsc import PcscError, PcscReader, list_readers
    from sim.vpicc import FunctionCard, VpiccConnection

    reader_name = "Virtual PCD 00 00"
    try:
        if reader_name not in list_readers():
            return None
    except PcscError:
        return None
    apdu = bytes.fromhex("00B2010C00")
    card = FunctionCard(lambda _: bytes(30) + b"\x90\x00")
    with open("/tmp/posterm-vpcd.lock", "w") as lock:  # same lock as the pcscd fixture
        fcntl.flock(lock, fcntl.LOCK_EX)
        vpicc = VpiccConnection(card).serve_in_thread()
        reader = PcscReader(reader_name)
        try:
            if not reader.wait_for_card(5):
                return None
            session = reader.power_on()
            ours = median_seconds(lambda: session.transmit(apdu), repeat)
            reader.power_off()
            from smartcard.System import readers

            connection = next(r for r in readers() if str(r) == reader_name).createConnection()
            connection.connect()
            theirs = median_seconds(lambda: connection.transmit(list(apdu)), repeat)
            connection.disconnect()
        finally:
            reader.close()
            vpicc.stop()
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Result(
        issue=7,
        name="PC/SC APDU round trip (hal.pcsc, pcscd + vpcd)",
        measured=f"{fmt_time(ours)} median",
        target="-",
        met=None,
        peer=f"pyscard CardConnection: {fmt_time(theirs)} median",
        note="includes the command-time-out worker hand-off",
    )


def run(quick: bool) -> list[Result]:
    timings = _press_to_display(300 if quick else 3000)
    median = statistics.median(timings)
    p99 = sorted(timings)[int(len(timings) * 0.99) - 1]
    results = [
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
    pcsc = _pcsc_round_trip(100 if quick else 1000)
    if pcsc is not None:
        results.append(pcsc)
    return results
