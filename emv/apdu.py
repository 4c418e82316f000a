"""Command APDUs the kernel sends (Book 3, 6.5) and the one place that sends them.

Every exchange goes through :func:`exchange`, which records a masked
:class:`~emv.outcome.TraceEntry` in the context before returning.
"""

from __future__ import annotations

from dataclasses import dataclass

from emv.context import TransactionContext
from emv.errors import EmvError
from emv.trace import record
from emv.transport import CardTransport

SW_OK = 0x9000


class CardResponseError(EmvError):
    """The card's response breaks Book 1/3 format rules (context: command, SW)."""

    def __init__(self, message: str, sw: int | None = None) -> None:
        super().__init__(message if sw is None else f"{message} (SW {sw:04X})")
        self.sw = sw


@dataclass(frozen=True, slots=True)
class Response:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    @property
    def sw1(self) -> int:
        return self.sw >> 8


class CommandDataTooLong(EmvError):
    """Command data (a card's DOL asking for it) over a short APDU's 255 bytes."""


# ISO/IEC 7816-4 short Lc: 1..255 bytes of command data (EMV uses short APDUs only).
MAX_COMMAND_DATA = 255


def _case(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: bool = True) -> bytes:
    out = bytes((cla, ins, p1, p2))
    if len(data) > MAX_COMMAND_DATA:
        raise CommandDataTooLong(f"INS {ins:02X}: {len(data)} bytes of command data")
    if data:
        out += bytes((len(data),)) + data
    if le:
        out += b"\x00"
    return out


# EMV 4.4 Book 1, 11.3.2 SELECT: P1 '04' by name, P2 '00' first / '02' next occurrence
def select(name: bytes, next_occurrence: bool = False) -> bytes:
    return _case(0x00, 0xA4, 0x04, 0x02 if next_occurrence else 0x00, name)


# EMV 4.4 Book 1, 11.2 READ RECORD: P2 = SFI << 3 | 4 (record number in P1)
def read_record(sfi: int, record: int) -> bytes:
    return _case(0x00, 0xB2, record, (sfi << 3) | 0x04)


# EMV 4.4 Book 3, 6.5.8 GET PROCESSING OPTIONS: data is the '83' template
def get_processing_options(pdol_data: bytes) -> bytes:
    return _case(0x80, 0xA8, 0x00, 0x00, b"\x83" + bytes((len(pdol_data),)) + pdol_data)


# EMV 4.4 Book 3, 6.5.7 GET DATA: P1P2 = tag (9F36, 9F13, 9F17, 9F4F)
def get_data(tag: int) -> bytes:
    return _case(0x80, 0xCA, tag >> 8, tag & 0xFF, b"")


# EMV 4.4 Book 3, 6.5.5 GENERATE AC: P1 b8-b7 type, b5 CDA signature requested
def generate_ac(p1: int, cdol_data: bytes) -> bytes:
    return _case(0x80, 0xAE, p1, 0x00, cdol_data)


# EMV 4.4 Book 3, 6.5.4 EXTERNAL AUTHENTICATE (no Le: case 3)
def external_authenticate(issuer_auth_data: bytes) -> bytes:
    return _case(0x00, 0x82, 0x00, 0x00, issuer_auth_data, le=False)


# EMV 4.4 Book 3, 6.5.9 INTERNAL AUTHENTICATE
def internal_authenticate(ddol_data: bytes) -> bytes:
    return _case(0x00, 0x88, 0x00, 0x00, ddol_data)


# EMV 4.4 Book 3, 6.5.6 GET CHALLENGE
def get_challenge() -> bytes:
    return bytes((0x00, 0x84, 0x00, 0x00, 0x00))


# EMV 4.4 Book 3, 6.5.12 VERIFY: P2 '80' plaintext PIN, '88' enciphered PIN
def verify(p2: int, data: bytes) -> bytes:
    return _case(0x00, 0x20, 0x00, p2, data, le=False)


def exchange(ctx: TransactionContext, transport: CardTransport, command: bytes) -> Response:
    """Send ``command``, record the masked trace, return the parsed response.

    Raises
    ------
    emv.transport.CardTransportError
        The card is gone (the kernel maps this to "card removed").
    CardResponseError
        The response is shorter than a status word.
    """
    raw = transport.transmit(command)
    if len(raw) < 2:
        record(ctx, command, raw)
        raise CardResponseError(f"response of {len(raw)} bytes has no status word")
    response = Response(bytes(raw[:-2]), (raw[-2] << 8) | raw[-1])
    record(ctx, command, raw)
    return response
