"""Device URLs pick backends; sim:// goes through the posterm.drivers entry point."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hal.clock import SystemClock
from hal.display import TtyDisplay
from hal.registry import UnknownDeviceError, open_device, parse_url
from hal.textprinter import TextPrinter


def test_parse_url() -> None:
    url = parse_url("pcsc://Virtual%20PCD%2000%2000")
    assert (url.scheme, url.target) == ("pcsc", "Virtual PCD 00 00")
    assert parse_url("pcsc://Virtual PCD 00 00").target == "Virtual PCD 00 00"
    url = parse_url("serial:///dev/ttyUSB0?baud=9600&suffix=0d")
    assert (url.scheme, url.path, url.query) == (
        "serial",
        "/dev/ttyUSB0",
        {"baud": "9600", "suffix": "0d"},
    )
    url = parse_url("tcp://127.0.0.1:8583")
    assert (url.netloc, url.path) == ("127.0.0.1:8583", "")
    assert parse_url("stdout").scheme == "stdout"


def test_unknown_kind_and_scheme() -> None:
    with pytest.raises(UnknownDeviceError, match="kind"):
        open_device("toaster", "sim://")
    with pytest.raises(UnknownDeviceError, match="scheme 'gopher'"):
        open_device("printer", "gopher://x")


def test_file_and_stdout_printers(tmp_path: Path) -> None:
    printer = open_device("printer", f"file://{tmp_path}/r.txt")
    assert isinstance(printer, TextPrinter) and printer.path == tmp_path / "r.txt"
    assert isinstance(open_device("printer", "stdout"), TextPrinter)


def test_tty_display_and_clock() -> None:
    display = open_device("display", "tty://?size=16x4", stream=io.StringIO())
    assert isinstance(display, TtyDisplay) and (display.columns, display.rows) == (16, 4)
    assert isinstance(open_device("clock", "system://"), SystemClock)


def test_sim_scheme_goes_through_entry_point() -> None:
    keypad = open_device("keypad", "sim://?pin=1234")
    assert type(keypad).__module__ == "sim.devices"
    assert keypad.pin == "1234"


def test_root_secret_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keys.store import EnvRootSecret, FileRootSecret

    provider = open_device("root_secret", f"file://{tmp_path}/root.secret?create=1")
    assert isinstance(provider, FileRootSecret) and len(provider.root_secret()) == 32
    monkeypatch.setenv("POSTERM_TEST_ROOT", "00" * 32)
    provider = open_device("root_secret", "env://POSTERM_TEST_ROOT")
    assert isinstance(provider, EnvRootSecret) and provider.root_secret() == bytes(32)
