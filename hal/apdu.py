"""What every card transport shares: the card-side errors and the T=0 procedure
status words (61xx, 6Cxx) resolved below the kernel.

The kernel (emv/) only ever sees final status words; readers differ only in how
they move one raw APDU, which they pass in as ``raw``.
"""

from __future__ import annotations

from collections.abc import Callable

from emv.transport import CardTransportError

MAX_CHAINED_RESPONSES = 64  # bound on 61xx GET RESPONSE rounds for one command


class CardRemovedError(CardTransportError):
    """The card left the reader or field during a command."""


class CardTimeoutError(CardTransportError):
    """The card did not answer in time; the session is dropped."""


class CardCommunicationError(CardTransportError):
    """The exchange failed with the card still seen by the reader."""


class ReaderGoneError(CardTransportError):
    """The reader (or its daemon) went away during a command."""


class CardProtocolError(CardTransportError):
    """The card broke the transmission rules (e.g. an endless 61xx chain)."""


def with_le(apdu: bytes, le: int) -> bytes:
    """The same command with Le set to ``le`` (short APDUs, ISO/IEC 7816-4, 5.1 cases 1-4)."""
    if len(apdu) == 4:  # case 1
        return apdu + bytes([le])
    if len(apdu) == 5:  # case 2
        return apdu[:4] + bytes([le])
    lc = apdu[4]
    if len(apdu) == 5 + lc:  # case 3
        return apdu + bytes([le])
    return apdu[: 5 + lc] + bytes([le])  # case 4


def transmit_resolving(raw: Callable[[bytes], bytes], apdu: bytes, where: str) -> bytes:
    """Send ``apdu`` through ``raw``; answer 6Cxx and 61xx so only final SWs come back.

    Raises CardProtocolError for a response without a status word or an endless chain.
    """
    response = raw(apdu)
    if len(response) < 2:
        raise CardProtocolError(f"{where}: response shorter than a status word")
    if response[-2] == 0x6C:  # ISO/IEC 7816-3, 10.3.3: wrong Le, SW2 = exact length
        response = raw(with_le(apdu, response[-1]))
    data = bytearray()
    for _ in range(MAX_CHAINED_RESPONSES):
        if len(response) < 2 or response[-2] != 0x61:
            return bytes(data) + response
        data += response[:-2]
        # ISO/IEC 7816-4, 7.6.1 GET RESPONSE; EMV Book 1, 9.3.1.3 (CLA 00)
        response = raw(bytes([0x00, 0xC0, 0x00, 0x00, response[-1]]))
    raise CardProtocolError(f"{where}: more than {MAX_CHAINED_RESPONSES} 61xx responses")
