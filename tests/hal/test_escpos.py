"""ESC/POS printer over a real pty: python-escpos command bytes reach a printer
simulator that parses them; DLE EOT status (paper out, cover open, silence,
garbage) is read back and the driver holds, then prints once the printer is ready."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hal.escpos import EscposPrinter, decode_status, render
from hal.events import EventQueue, PrinterStatus, PrinterStatusChanged
from hal.ports import Align, Cut, Feed, QrCode, TextLine
from hal.registry import open_device
from tests.hal.escpos_sim import EscposDeviceSim

RECEIPT = [
    TextLine("CORNER SHOP", Align.CENTER, bold=True, double_height=True),
    TextLine("SALE"),
    TextLine("TOTAL GBP 12.34", Align.RIGHT),
    QrCode("https://receipts.example/abc", size=4),
    Feed(2),
    Cut(),
]


@pytest.fixture
def printer_pair(ptys: tuple[str, str]) -> Iterator[tuple[EscposPrinter, EscposDeviceSim]]:
    device_side, driver_side = ptys
    device = EscposDeviceSim(device_side)
    printer = open_device("printer", f"escpos+serial://{driver_side}", status_timeout=0.2)
    try:
        yield printer, device
    finally:
        printer.close()
        device.close()


def wait_for(condition, timeout: float = 2.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.pty
def test_prints_styles_qr_and_cut(printer_pair: tuple[EscposPrinter, EscposDeviceSim]) -> None:
    printer, device = printer_pair
    assert printer.print(RECEIPT) is PrinterStatus.OK
    assert wait_for(lambda: device.cuts == 1)
    assert "CORNER SHOP" in device.bold_lines and "TOTAL GBP 12.34" in device.lines
    assert device.qr == [b"https://receipts.example/abc"]
    assert (device.aligned["CORNER SHOP"], device.aligned["SALE"]) == (1, 0)  # ESC a: centre, left
    assert device.aligned["TOTAL GBP 12.34"] == 2  # right
    assert device.unknown == []


@pytest.mark.pty
def test_paper_out_and_cover_open_hold_then_reprint(
    printer_pair: tuple[EscposPrinter, EscposDeviceSim],
) -> None:
    printer, device = printer_pair
    queue = EventQueue()
    printer.attach(queue)
    device.paper_out = True
    assert printer.print(RECEIPT) & PrinterStatus.PAPER_OUT
    device.paper_out, device.cover_open = False, True
    assert printer.status() == PrinterStatus.COVER_OPEN
    assert device.lines == []  # held: nothing printed
    device.cover_open = False
    assert printer.print(RECEIPT) is PrinterStatus.OK
    assert wait_for(lambda: device.cuts == 1)
    changes = [e.status for e in queue.drain() if isinstance(e, PrinterStatusChanged)]
    assert changes == [PrinterStatus.PAPER_OUT, PrinterStatus.COVER_OPEN, PrinterStatus.OK]


@pytest.mark.pty
def test_silent_or_garbage_printer(printer_pair: tuple[EscposPrinter, EscposDeviceSim]) -> None:
    printer, device = printer_pair
    device.silent = True
    assert printer.status() is PrinterStatus.OFFLINE
    device.silent, device.garbage = False, True
    assert printer.status() is PrinterStatus.ERROR
    device.garbage = False
    assert printer.status() is PrinterStatus.OK  # recovers


@pytest.mark.parametrize(
    ("online", "offline", "paper", "expected"),
    [
        (0x12, 0x12, 0x12, PrinterStatus.OK),
        (0x1A, 0x16, 0x12, PrinterStatus.COVER_OPEN),
        (0x1A, 0x32, 0x72, PrinterStatus.PAPER_OUT),
        (0x12, 0x12, 0x1E, PrinterStatus.PAPER_NEAR_END),
        (0x1A, 0x12, 0x12, PrinterStatus.OFFLINE),
    ],
)
def test_decode_status(online: int, offline: int, paper: int, expected: PrinterStatus) -> None:
    assert decode_status(online, offline, paper) == expected


def test_device_file_without_status(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A plain file stands in for a write-only device: bytes land, status is not asked."""
    target = tmp_path / "lp0"
    printer = open_device("printer", f"escpos+file://{target}")
    try:
        assert printer.print(RECEIPT) is PrinterStatus.OK
    finally:
        printer.close()
    assert target.read_bytes() == render(RECEIPT)


@pytest.mark.pty
def test_device_file_reads_status_back(ptys: tuple[str, str]) -> None:
    """escpos+file:// on a character device (the pty, as /dev/usb/lp0 would be) asks DLE EOT."""
    device_side, driver_side = ptys
    device = EscposDeviceSim(device_side)
    printer = open_device("printer", f"escpos+file://{driver_side}", status_timeout=0.2)
    try:
        device.paper_out = True
        assert printer.print(RECEIPT) & PrinterStatus.PAPER_OUT
        device.paper_out = False
        assert printer.print(RECEIPT) is PrinterStatus.OK
        assert wait_for(lambda: device.cuts == 1)
    finally:
        printer.close()
        device.close()


def test_unknown_items_are_refused_not_dropped() -> None:
    from hal.errors import PrinterError
    from hal.textprinter import render_text

    with pytest.raises(PrinterError, match="str"):
        render(["plain string"])  # type: ignore[list-item]
    with pytest.raises(PrinterError, match="str"):
        render_text(["plain string"])  # type: ignore[list-item]
