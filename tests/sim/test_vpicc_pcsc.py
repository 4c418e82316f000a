"""The real PC/SC path: a virtual card behind Debian's pcscd + vsmartcard-vpcd,
reached by pyscard exactly as a USB reader would be."""

from __future__ import annotations

import time

import pytest

from sim.vpicc import FunctionCard, VpiccConnection

pytestmark = pytest.mark.pcsc

PSE = b"1PAY.SYS.DDF01"
FCI = bytes.fromhex("6F15840E315041592E5359532E4444463031A503880101") + b"\x90\x00"


def _card_handler(apdu: bytes) -> bytes:
    if apdu[:4] == b"\x00\xa4\x04\x00" and apdu[5 : 5 + apdu[4]] == PSE:
        return FCI
    return b"\x6a\x82"


def _connect(reader_name: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.System import readers

    reader = next(r for r in readers() if str(r) == reader_name)
    deadline = time.monotonic() + timeout
    while True:
        connection = reader.createConnection()
        try:
            connection.connect()
            return connection
        except (NoCardException, CardConnectionException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_pyscard_selects_pse_on_virtual_card(pcscd: str) -> None:
    card = VpiccConnection(FunctionCard(_card_handler)).serve_in_thread()
    try:
        connection = _connect(pcscd)
        try:
            assert bytes(connection.getATR()) == card.card.atr
            apdu = [0x00, 0xA4, 0x04, 0x00, len(PSE), *PSE, 0x00]
            data, sw1, sw2 = connection.transmit(apdu)
            assert (sw1, sw2) == (0x90, 0x00)
            assert bytes(data) == FCI[:-2]
            data, sw1, sw2 = connection.transmit([0x00, 0xA4, 0x04, 0x00, 0x02, 0xA0, 0x00, 0x00])
            assert (sw1, sw2) == (0x6A, 0x82)
        finally:
            connection.disconnect()
    finally:
        card.stop()
    assert card.error is None
