"""The PC/SC driver behind real pcscd + vsmartcard-vpcd, pyscard really in use.

The virtual card answers with T=0 procedure status words (61xx, 6Cxx) that the
driver must resolve itself, stalls to trigger the command time-out, and is pulled
mid-session by stopping its vpicc connection.
"""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv.transport import CardTransportError
from hal.events import CardInserted, CardRemoved, EventQueue
from hal.pcsc import (
    CardRemovedError,
    CardTimeoutError,
    NoCardError,
    PcscReader,
    ReaderNotFoundError,
    with_le,
)
from hal.registry import open_device
from sim.vpicc import FunctionCard, VpiccConnection

FCI = bytes(range(0x20, 0x20 + 40))
RECORD = bytes(range(0x70, 0x70 + 16))
LONG = bytes(range(256))[:200]


class ScriptedCard:
    """Answers like a T=0 card: the data comes only through GET RESPONSE."""

    def __init__(self) -> None:
        self.log: list[bytes] = []
        self.pending = b""
        self.stall = threading.Event()

    def __call__(self, apdu: bytes) -> bytes:
        self.log.append(apdu)
        ins = apdu[1]
        if ins == 0xA4:  # SELECT: data waits for GET RESPONSE
            self.pending = FCI
            return bytes([0x61, len(FCI)])
        if ins == 0xC0:  # GET RESPONSE, in chunks of at most 64 bytes
            size = apdu[4] or 256
            chunk, self.pending = self.pending[:size], self.pending[size:]
            if self.pending:
                return chunk + bytes([0x61, min(64, len(self.pending))])
            return chunk + b"\x90\x00"
        if ins == 0xB2:  # READ RECORD: wrong Le → 6C with the exact length
            if apdu[-1] != len(RECORD):
                return bytes([0x6C, len(RECORD)])
            return RECORD + b"\x90\x00"
        if ins == 0xCA:  # GET DATA: a long answer chained over several 61xx
            self.pending = LONG
            return b"\x61\x40"
        if ins == 0x88:  # stalls
            self.stall.wait(5)
            return b"\x90\x00"
        return b"\x6d\x00"


def _insert(card: ScriptedCard) -> VpiccConnection:
    return VpiccConnection(FunctionCard(card)).serve_in_thread()


@pytest.mark.pcsc
@pytest.mark.parametrize(
    ("atr", "protocol"),
    [
        ("3B00", "T=0"),
        ("3B8080010101", "T=1"),
    ],  # ISO/IEC 7816-3: no TD1 → T=0; TD1=80, TD2=01 → T=1
)
def test_t0_procedure_bytes_are_resolved_inside_the_transport(
    pcscd: str, atr: str, protocol: str
) -> None:
    card = ScriptedCard()
    vpicc = VpiccConnection(FunctionCard(card, atr=bytes.fromhex(atr))).serve_in_thread()
    reader = open_device("contact_reader", f"pcsc://{pcscd}")
    try:
        assert reader.wait_for_card(5)
        session = reader.power_on()
        assert session.atr == bytes.fromhex(atr)
        assert session.protocol_name == protocol
        select = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01" + b"\x00"
        assert session.transmit(select) == FCI + b"\x90\x00"
        assert card.log[-1] == bytes.fromhex("00C0000028")  # GET RESPONSE with Le=0x28
        assert session.transmit(bytes.fromhex("00B2010C00")) == RECORD + b"\x90\x00"
        assert card.log[-1] == bytes.fromhex("00B2010C10")  # re-issued with Le from 6C10
        assert session.transmit(bytes.fromhex("80CA9F1700")) == LONG + b"\x90\x00"
        assert session.transmit(bytes.fromhex("00FF000000")) == b"\x6d\x00"
    finally:
        reader.close()
        vpicc.stop()


@pytest.mark.pcsc
def test_card_removed_mid_session_and_reinserted(pcscd: str) -> None:
    queue = EventQueue()
    card = ScriptedCard()
    vpicc = _insert(card)
    reader = PcscReader(pcscd)
    reader.attach(queue)
    try:
        inserted = queue.wait_for(CardInserted, 5)
        assert inserted is not None and inserted.atr == vpicc.card.atr
        session = reader.power_on()
        vpicc.stop()  # the card is pulled
        failures: list[CardTransportError] = []
        for _ in range(100):  # vpcd notices the pull within its ~400 ms ATR poll
            try:
                session.transmit(bytes.fromhex("00FF000000"))
            except CardTransportError as error:
                failures.append(error)
                if isinstance(error, CardRemovedError):
                    break
            time.sleep(0.05)
        assert failures and isinstance(failures[-1], CardRemovedError)
        assert "0x8010" in str(failures[-1])
        with pytest.raises(CardRemovedError):  # stays dead: no silent reuse
            session.transmit(bytes.fromhex("00FF000000"))
        assert queue.wait_for(CardRemoved, 5) is not None
        assert reader.wait_for_removal(2)
        with pytest.raises(NoCardError):
            reader.power_on()
        vpicc = _insert(ScriptedCard())
        assert queue.wait_for(CardInserted, 5) is not None
        assert reader.power_on().transmit(bytes.fromhex("00FF000000")) == b"\x6d\x00"
    finally:
        reader.close()
        vpicc.stop()


@pytest.mark.pcsc
def test_command_timeout(pcscd: str) -> None:
    card = ScriptedCard()
    vpicc = _insert(card)
    reader = PcscReader(pcscd, command_timeout=0.3)
    try:
        assert reader.wait_for_card(5)
        session = reader.power_on()
        with pytest.raises(CardTimeoutError, match="INS 88"):
            session.transmit(bytes.fromhex("0088000000"))
        card.stall.set()
        with pytest.raises(CardTimeoutError):
            session.transmit(bytes.fromhex("00FF000000"))
    finally:
        card.stall.set()
        reader.close()
        vpicc.stop()


@pytest.mark.pcsc
def test_unknown_reader(pcscd: str) -> None:
    with pytest.raises(ReaderNotFoundError, match="Nonexistent"):
        PcscReader("Nonexistent Reader 99").power_on()


@given(
    st.binary(min_size=4, max_size=4), st.binary(max_size=40), st.booleans(), st.integers(0, 255)
)
def test_with_le_keeps_header_and_data(header: bytes, data: bytes, had_le: bool, le: int) -> None:
    apdu = header + (bytes([len(data)]) + data if data else b"") + (b"\x00" if had_le else b"")
    fixed = with_le(apdu, le)
    assert fixed[:4] == header and fixed[-1] == le
    assert fixed == header + (bytes([len(data)]) + data if data else b"") + bytes([le])


@pytest.mark.pcsc
def test_pcsc_reader_as_contactless_port(pcscd: str) -> None:
    from hal.events import ContactlessCardPresented
    from hal.ports import PollStatus

    queue = EventQueue()
    reader = open_device("contactless_reader", f"pcsc://{pcscd}")
    reader.attach(queue)
    vpicc = _insert(ScriptedCard())
    try:
        assert reader.poll(5).status is PollStatus.ONE_CARD
        assert queue.wait_for(ContactlessCardPresented, 5) is not None
        assert reader.activate().transmit(bytes.fromhex("00FF000000")) == b"\x6d\x00"
        reader.deactivate()
    finally:
        reader.close()
        vpicc.stop()


@pytest.mark.pcsc
def test_monitor_reports_reader_missing_then_present(pcscd: str) -> None:
    """vpcd's readers cannot be unplugged while pcscd runs (tests must not kill it), so
    the reader 'appears' by pointing the monitor at a name pcscd does not list and then
    at the real one; the monitor's detach / PnP-wait / attach path runs on real pcscd."""
    from hal.events import ReaderAttached, ReaderDetached

    queue = EventQueue()
    reader = PcscReader("Reader Not Plugged 00")
    reader.attach(queue)
    vpicc = _insert(ScriptedCard())
    try:
        assert queue.wait_for(ReaderDetached, 3) is not None
        reader.name = pcscd  # plugged in
        assert queue.wait_for(ReaderAttached, 3) is not None
        assert queue.wait_for(CardInserted, 5) is not None
    finally:
        reader.close()
        vpicc.stop()
