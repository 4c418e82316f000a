"""Static proof that every driver and simulated device satisfies its hal port.

Checked by mypy in tests/hal/test_port_conformance.py; never imported at run time.
"""

from __future__ import annotations

from emv.transport import CardTransport
from hal import ports
from hal.clock import SystemClock
from hal.display import TtyDisplay, TtyKeypad
from hal.escpos import EscposPrinter
from hal.gpio import GpioIndicators, MatrixKeypad
from hal.hostlink import SerialHostLink, TcpHostLink
from hal.magstripe import SerialMagstripeReader
from hal.pcsc import PcscCardSession, PcscReader
from hal.pinentry import SecurePinEntry
from hal.pn532 import Pn532CardSession, Pn532Reader
from hal.serial_qr import SerialQrScanner
from hal.textprinter import TextPrinter
from keys.store import FileRootSecret
from sim.devices import (
    SimCardReader,
    SimClock,
    SimDisplay,
    SimIndicators,
    SimKeypad,
    SimMagstripe,
    SimPrinter,
    SimQrScanner,
)


def a(x: PcscReader) -> ports.ContactReader:
    return x


def a2(x: PcscReader) -> ports.ContactlessReader:
    return x


def b(x: Pn532Reader) -> ports.ContactlessReader:
    return x


def c(x: PcscCardSession) -> CardTransport:
    return x


def c2(x: Pn532CardSession) -> ports.CardSession:
    return x


def c3(x: PcscCardSession) -> ports.CardSession:
    return x


def d(x: SerialQrScanner) -> ports.QrScanner:
    return x


def e(x: SerialMagstripeReader) -> ports.MagStripeReader:
    return x


def f(x: MatrixKeypad) -> ports.Keypad:
    return x


def f2(x: TtyKeypad) -> ports.Keypad:
    return x


def g(x: GpioIndicators) -> ports.Indicators:
    return x


def h(x: TtyDisplay) -> ports.Display:
    return x


def i(x: EscposPrinter) -> ports.Printer:
    return x


def i2(x: TextPrinter) -> ports.Printer:
    return x


def j(x: TcpHostLink) -> ports.HostLink:
    return x


def j2(x: SerialHostLink) -> ports.HostLink:
    return x


def k(x: SystemClock) -> ports.Clock:
    return x


def pinpad(x: SecurePinEntry) -> ports.PinPad:
    return x


def m(x: FileRootSecret) -> ports.RootSecretProvider:
    return x


def s1(x: SimKeypad) -> ports.Keypad:
    return x


def s2(x: SimDisplay) -> ports.Display:
    return x


def s3(x: SimPrinter) -> ports.Printer:
    return x


def s4(x: SimIndicators) -> ports.Indicators:
    return x


def s5(x: SimQrScanner) -> ports.QrScanner:
    return x


def s6(x: SimMagstripe) -> ports.MagStripeReader:
    return x


def s7(x: SimClock) -> ports.Clock:
    return x


def s8(x: SimCardReader) -> ports.ContactReader:
    return x


def s9(x: SimCardReader) -> ports.ContactlessReader:
    return x
