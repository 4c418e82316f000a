"""Simulated devices behave like the hal ports they stand in for."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

from hal.events import (
    EventQueue,
    InputRejected,
    Key,
    KeyPressed,
    MagstripeSwiped,
    PrinterStatus,
    PrinterStatusChanged,
    QrScanned,
)
from hal.ports import Align, Cut, QrCode, TextLine
from hal.ports import PrinterStatus as PortStatus
from hal.registry import open_device
from sim.devices import SimClock, SimIndicators, SimMagstripe, SimPrinter, SimQrScanner


def test_open_every_kind_by_url() -> None:
    for kind in ("keypad", "display", "printer", "indicators", "qr_scanner", "magstripe", "clock"):
        assert type(open_device(kind, "sim://")).__module__ == "sim.devices"


def test_keypad_posts_keys() -> None:
    queue = EventQueue()
    keypad = open_device("keypad", "sim://")
    keypad.attach(queue)
    keypad.press("12E")
    assert [e.key for e in queue.drain() if isinstance(e, KeyPressed)] == [
        Key.D1,
        Key.D2,
        Key.ENTER,
    ]


def test_printer_holds_when_paper_out_then_prints(tmp_path: Path) -> None:
    assert PortStatus is PrinterStatus
    queue = EventQueue()
    stream = io.StringIO()
    printer = SimPrinter(path=tmp_path / "r.txt", stream=stream)
    printer.attach(queue)
    receipt = [
        TextLine("SHOP", Align.CENTER, bold=True),
        TextLine("TOTAL 12.34"),
        QrCode("x"),
        Cut(),
    ]
    printer.set_status(PrinterStatus.PAPER_OUT)
    assert printer.print(receipt) is PrinterStatus.PAPER_OUT
    assert printer.printed == []
    printer.set_status(PrinterStatus.OK)
    assert printer.print(receipt) is PrinterStatus.OK
    assert "TOTAL 12.34" in (tmp_path / "r.txt").read_text() and "SHOP" in stream.getvalue()
    assert [e.status for e in queue.drain() if isinstance(e, PrinterStatusChanged)] == [
        PrinterStatus.PAPER_OUT,
        PrinterStatus.OK,
    ]


def test_qr_and_magstripe() -> None:
    queue = EventQueue()
    qr, msr = SimQrScanner(max_length=10), SimMagstripe()
    qr.attach(queue)
    msr.attach(queue)
    qr.scan("HELLO")
    qr.scan("X" * 11)
    msr.swipe(track2="4761739001010010=2212")
    msr.swipe_raw(b";4761?9")
    events = queue.drain()
    assert isinstance(events[0], QrScanned) and events[0].payload == "HELLO"
    assert isinstance(events[1], InputRejected)
    assert isinstance(events[2], MagstripeSwiped) and events[2].track2 == "4761739001010010=2212"
    assert isinstance(events[3], InputRejected) and "LRC" in events[3].reason


def test_clock_steps() -> None:
    clock = SimClock(datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC))
    start = clock.monotonic()
    clock.advance(90)
    assert clock.monotonic() - start == 90
    assert clock.now() == datetime.datetime(2026, 3, 1, 9, 1, 30, tzinfo=datetime.UTC)


def test_indicators_record() -> None:
    from hal.ports import Beep, Light

    indicators = SimIndicators()
    indicators.set_lights(Light.LIGHT1)
    indicators.beep(Beep.SUCCESS)
    assert indicators.history == [Light.LIGHT1, Beep.SUCCESS]


def test_sim_contact_reader_with_a_profile_card() -> None:
    from hal.apdu import CardRemovedError
    from hal.events import CardInserted, CardRemoved
    from sim.card import list_profiles

    profile = "visa-cda"
    assert profile in list_profiles()
    queue = EventQueue()
    reader = open_device("contact_reader", f"sim://{profile}")
    reader.attach(queue)
    assert isinstance(queue.get(0), CardInserted)
    session = reader.power_on()
    pse = b"1PAY.SYS.DDF01"
    response = session.transmit(bytes([0x00, 0xA4, 0x04, 0x00, len(pse)]) + pse + b"\x00")
    assert response[-2:] in (b"\x90\x00", b"\x6a\x82")  # PSE or not, a final status word
    reader.remove()
    assert isinstance(queue.get(0), CardRemoved)
    import pytest

    with pytest.raises(CardRemovedError):
        session.transmit(b"\x00\xa4\x04\x00\x00")


def test_sim_contactless_reader_empty_then_card() -> None:
    from hal.ports import PollStatus
    from sim.vpicc import FunctionCard

    reader = open_device("contactless_reader", "sim://")
    assert reader.poll(0.01).status is PollStatus.NO_CARD
    reader.insert(FunctionCard(lambda apdu: b"\x61\x02" if apdu[1] == 0xA4 else b"OK\x90\x00"))
    assert reader.poll(0.01).status is PollStatus.ONE_CARD
    assert reader.activate().transmit(b"\x00\xa4\x04\x00\x00") == b"OK\x90\x00"
