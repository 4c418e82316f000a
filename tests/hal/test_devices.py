"""open_devices: the terminal's one call to open [devices] and wire the queue."""

from __future__ import annotations

import pytest

from hal.devices import open_devices
from hal.events import CardInserted, EventQueue
from hal.ports import PinEntryStatus, PinRequest
from hal.registry import UnknownDeviceError


def test_open_sim_devices_and_enter_a_pin() -> None:
    urls = {
        "contact_reader": "sim://visa-cda",
        "keypad": "sim://",
        "printer": "sim://",
        "display": "sim://?columns=16&rows=4",
        "indicators": "sim://",
        "contactless_reader": "sim://",
    }
    with open_devices(urls, options={"keypad": {"pin": "4321"}}) as devices:
        assert isinstance(devices.queue.get(1), CardInserted)
        assert devices.contactless_reader is not None
        assert devices.contactless_reader.indicators is devices.indicators
        assert devices.pinpad is not None
        result = devices.pinpad.enter_pin(PinRequest(), lambda pin: bytes(pin))
        assert result.status is PinEntryStatus.ENTERED and result.value == b"4321"
        assert devices.qr_scanner is None and devices.clock is not None
        opened = list(devices.opened)
    assert devices.opened == [] and len(opened) == 7  # clock included


def test_a_bad_url_closes_what_was_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    from sim.devices import SimDisplay, SimKeypad

    closed: list[str] = []
    monkeypatch.setattr(SimKeypad, "close", lambda self: closed.append("keypad"))
    monkeypatch.setattr(SimDisplay, "close", lambda self: closed.append("display"))
    with pytest.raises(UnknownDeviceError, match="gopher"):
        open_devices(
            {"display": "sim://", "keypad": "sim://", "printer": "gopher://x"}, queue=EventQueue()
        )
    assert closed == ["keypad", "display"]  # last opened, first closed
