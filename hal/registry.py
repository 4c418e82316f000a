"""Open a device by URL, the way pyserial's ``serial_for_url`` picks a backend.

``open_device("contact_reader", "pcsc://Virtual PCD 00 00")`` imports only the
driver the URL names. ``sim://...`` URLs go to whatever package registered the
``posterm.drivers`` entry point named ``sim`` (so hal never imports sim).

Kinds: contact_reader, contactless_reader, keypad, pinpad, display, printer,
indicators, qr_scanner, magstripe, host, clock, root_secret.
"""

from __future__ import annotations

import importlib
import urllib.parse
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from hal.errors import HalError

KINDS = frozenset(
    {
        "contact_reader",
        "contactless_reader",
        "keypad",
        "pinpad",
        "display",
        "printer",
        "indicators",
        "qr_scanner",
        "magstripe",
        "host",
        "clock",
        "root_secret",
    }
)

# (scheme, kind) → "module:callable"; kind "*" matches every kind.
_BACKENDS: dict[tuple[str, str], str] = {
    ("pcsc", "contact_reader"): "hal.pcsc:open_url",
    ("pcsc", "contactless_reader"): "hal.pcsc:open_url",
    ("pn532", "contactless_reader"): "hal.pn532:open_url",
    ("serial", "qr_scanner"): "hal.serial_qr:open_url",
    ("serial", "magstripe"): "hal.magstripe:open_url",
    ("serial", "host"): "hal.hostlink:open_url",
    ("serial", "printer"): "hal.escpos:open_url",
    ("escpos+serial", "printer"): "hal.escpos:open_url",
    ("escpos+file", "printer"): "hal.escpos:open_url",
    ("file", "printer"): "hal.textprinter:open_url",
    ("stdout", "printer"): "hal.textprinter:open_url",
    ("tcp", "host"): "hal.hostlink:open_url",
    ("tls", "host"): "hal.hostlink:open_url",
    ("gpio", "keypad"): "hal.gpio:open_url",
    ("gpio", "indicators"): "hal.gpio:open_url",
    ("tty", "display"): "hal.display:open_url",
    ("tty", "keypad"): "hal.display:open_keypad_url",
    ("system", "clock"): "hal.clock:open_url",
    ("file", "root_secret"): "hal.secrets:open_url",
    ("env", "root_secret"): "hal.secrets:open_url",
}

DRIVER_GROUP = "posterm.drivers"


class UnknownDeviceError(HalError):
    """No backend serves this URL scheme for this kind of device."""


@dataclass(frozen=True, slots=True)
class DeviceUrl:
    """A parsed device URL: ``scheme://netloc/path?query`` with decoded parts."""

    scheme: str
    netloc: str
    path: str
    query: dict[str, str]

    @property
    def target(self) -> str:
        """netloc + path (a reader name, a device path, host:port)."""
        return self.netloc + self.path


def parse_url(url: str) -> DeviceUrl:
    """Split a device URL. ``stdout`` (no ``://``) is the scheme ``stdout``."""
    if "://" not in url:
        return DeviceUrl(url.strip().lower(), "", "", {})
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    return DeviceUrl(
        scheme.lower(),
        urllib.parse.unquote(netloc),
        urllib.parse.unquote(slash + path),
        dict(urllib.parse.parse_qsl(query)),
    )


def open_device(kind: str, url: str, **options: Any) -> Any:
    """Open the device of ``kind`` at ``url``; options go to the driver.

    Raises
    ------
    UnknownDeviceError
        unknown kind, or no backend for this scheme and kind.
    HalError
        (a driver's subclass) when the device cannot be opened.
    """
    if kind not in KINDS:
        raise UnknownDeviceError(f"unknown device kind {kind!r}")
    parsed = parse_url(url)
    if parsed.scheme == "sim":
        return _open_plugin("sim", kind, url, options)
    target = _BACKENDS.get((parsed.scheme, kind))
    if target is None:
        raise UnknownDeviceError(f"no {kind} backend for scheme {parsed.scheme!r}")
    module_name, _, function = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, function)(kind, parsed, **options)


def _open_plugin(name: str, kind: str, url: str, options: dict[str, Any]) -> Any:
    for entry in entry_points(group=DRIVER_GROUP):
        if entry.name == name:
            return entry.load()(kind, url, **options)
    raise UnknownDeviceError(f"no {DRIVER_GROUP} entry point named {name!r} is installed")
