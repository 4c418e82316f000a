"""Open every configured device at once, wired to one event queue.

The terminal reads ``[devices]`` from its config (rig-contract: contact_reader,
contactless_reader, keypad, printer, plus optional display, indicators,
qr_scanner, magstripe) and calls :func:`open_devices`; it gets one
:class:`DeviceSet` with the input devices attached to the queue and a secure PIN
pad over the keypad. Unset devices are None.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from hal.events import EventQueue
from hal.pinentry import SecurePinEntry
from hal.ports import (
    Clock,
    ContactlessReader,
    ContactReader,
    Display,
    Indicators,
    Keypad,
    MagStripeReader,
    PinPad,
    Printer,
    QrScanner,
)
from hal.registry import open_device

# config key → registry kind; the order is the opening order
ROLES = {
    "clock": "clock",
    "display": "display",
    "indicators": "indicators",
    "keypad": "keypad",
    "printer": "printer",
    "contact_reader": "contact_reader",
    "contactless_reader": "contactless_reader",
    "qr_scanner": "qr_scanner",
    "magstripe": "magstripe",
}
INPUTS = ("keypad", "printer", "contact_reader", "contactless_reader", "qr_scanner", "magstripe")


@dataclass
class DeviceSet:
    queue: EventQueue
    clock: Clock
    contact_reader: ContactReader | None = None
    contactless_reader: ContactlessReader | None = None
    keypad: Keypad | None = None
    pinpad: PinPad | None = None
    display: Display | None = None
    printer: Printer | None = None
    indicators: Indicators | None = None
    qr_scanner: QrScanner | None = None
    magstripe: MagStripeReader | None = None
    opened: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Close everything opened, last first; one failing close does not stop the rest."""
        while self.opened:
            device = self.opened.pop()
            with contextlib.suppress(Exception):
                device.close()

    def __enter__(self) -> DeviceSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def roles(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in ROLES}


def open_devices(
    urls: Mapping[str, str | None],
    *,
    queue: EventQueue | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> DeviceSet:
    """Open each role whose URL is set; ``options[role]`` goes to that driver.

    The clock defaults to ``system://``. ``options["keypad"] = {"pin": "1234"}`` is how
    ``posterm pay --pin`` reaches a ``sim://`` keypad. On any failure the devices
    opened so far are closed and the error (a HalError subclass) propagates.
    """
    queue = queue or EventQueue()
    options = options or {}
    opened: list[Any] = []
    made: dict[str, Any] = {}
    try:
        for role, kind in ROLES.items():
            url = urls.get(role) or ("system://" if role == "clock" else None)
            if not url:
                continue
            device = open_device(kind, url, **dict(options.get(role, {})))
            opened.append(device)
            made[role] = device
        if "contactless_reader" in made and "indicators" in made:
            made["contactless_reader"].indicators = made["indicators"]
        for role in INPUTS:
            if role in made and hasattr(made[role], "attach"):
                made[role].attach(queue)
    except BaseException:
        for device in reversed(opened):
            with contextlib.suppress(Exception):
                device.close()
        raise
    pinpad = None
    if "keypad" in made:
        pinpad = SecurePinEntry(made["keypad"], queue, made.get("display"), made["clock"].monotonic)
    return DeviceSet(queue=queue, pinpad=pinpad, opened=opened, **made)
