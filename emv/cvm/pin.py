"""PIN CVMs: offline plaintext and enciphered PIN (VERIFY), online PIN (Book 3, 10.5).

PIN digits never reach this module: the terminal's :class:`~emv.callbacks.OfflinePin`
yields the 8-byte PIN block (Book 3, 6.5.12) and online PIN arrives already
enciphered by ``keys/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from emv import apdu
from emv.bits import TVR, CvmOutcome
from emv.callbacks import DisplayMessage, KernelCallbacks, PinEntry, PinKind, PinRequest, PinStatus
from emv.context import TransactionContext
from emv.oda.pin_encipherment import CHALLENGE_LENGTH, encipher_pin_block, padding_length
from emv.oda.results import PublicKey
from emv.oda.step import pin_encipherment_key
from emv.outcome import Outcome, TerminationReason
from emv.tlv import TlvError, decode
from emv.transport import CardTransport

TAG_PIN_TRY_COUNTER = 0x9F17
P2_PLAINTEXT = 0x80  # Book 3, 6.5.12 VERIFY P2: plaintext PIN block
P2_ENCIPHERED = 0x88  # enciphered PIN (Book 2, 7.2)
SW_BLOCKED = (0x6983, 0x6984)  # authentication method blocked / reference data invalidated
MAX_ATTEMPTS = 15  # 63Cx counts at most 15 remaining tries


@runtime_checkable
class RandomSource(Protocol):
    """Supplies the random padding for offline enciphered PIN (Book 2, 7.2 step 3).

    The terminal's callbacks implement it (ideally from the PIN pad's RNG);
    without it, offline enciphered PIN is treated as not supported.
    """

    def random_bytes(self, length: int) -> bytes: ...


@dataclass(slots=True)
class PinSession:
    """PIN state shared by the PIN CVMs of one transaction."""

    bypassed: bool = False  # Book 4, 6.3.4.3: once bypassed, later PIN CVMs are too


Result = CvmOutcome | Outcome


def _terminated(entry: PinEntry) -> Outcome:
    return Outcome.terminate(TerminationReason.CANCELLED, f"PIN entry {entry.status.value}")


def _entry_failed(ctx: TransactionContext, entry: PinEntry, session: PinSession) -> Result | None:
    """TVR bits for a PIN entry that produced no PIN; None when a PIN was entered."""
    if entry.status is PinStatus.ENTERED:
        return None
    if entry.status is PinStatus.BYPASSED:
        # Book 4, 6.3.4.3 PIN Entry Bypass
        session.bypassed = True
        ctx.tvr |= TVR.PIN_NOT_ENTERED
        return CvmOutcome.FAILED
    if entry.status is PinStatus.PINPAD_FAULT:
        ctx.tvr |= TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING
        return CvmOutcome.FAILED
    return _terminated(entry)


def _request(ctx: TransactionContext, kind: PinKind, counter: int | None) -> PinRequest:
    return PinRequest(
        kind=kind,
        pan_masked=ctx.pan_masked,
        amount=ctx.txn.amount,
        currency_code=ctx.terminal.get(0x5F2A, b""),
        try_counter=counter,
        last_try=counter == 1,
    )


# EMV 4.4 Book 4, 6.3.4.2 Online CVM
def online_pin(ctx: TransactionContext, callbacks: KernelCallbacks, session: PinSession) -> Result:
    if session.bypassed:
        ctx.tvr |= TVR.PIN_NOT_ENTERED
        return CvmOutcome.FAILED
    entry = callbacks.enter_pin(_request(ctx, PinKind.ONLINE, None))
    failed = _entry_failed(ctx, entry, session)
    if failed is not None:
        return failed
    if not entry.online_block:
        ctx.tvr |= TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING
        return CvmOutcome.FAILED
    ctx.online_pin = entry
    ctx.tvr |= TVR.ONLINE_CVM_CAPTURED
    return CvmOutcome.UNKNOWN


# EMV 4.4 Book 4, 6.3.4.1: GET DATA for the PIN Try Counter before VERIFY
def pin_try_counter(ctx: TransactionContext, transport: CardTransport) -> int | None:
    response = apdu.exchange(ctx, transport, apdu.get_data(TAG_PIN_TRY_COUNTER))
    if not response.ok:
        return None
    try:
        items = decode(response.data)
    except TlvError:
        return None
    for item in items:
        if item.tag == TAG_PIN_TRY_COUNTER and len(item.value) == 1:
            ctx.card[TAG_PIN_TRY_COUNTER] = item.value
            return item.value[0]
    return None


def _verify_data(
    ctx: TransactionContext,
    transport: CardTransport,
    block: bytes,
    encipher: tuple[RandomSource, PublicKey] | None,
) -> bytes | None:
    """VERIFY data: the PIN block, or (Book 2, 7.2) its RSA encipherment."""
    if encipher is None:
        return block
    random_source, key = encipher
    challenge = apdu.exchange(ctx, transport, apdu.get_challenge())
    if not challenge.ok or len(challenge.data) != CHALLENGE_LENGTH:
        return None  # Book 2, 7.2 step 2: the Offline Enciphered PIN CVM has failed
    padding = random_source.random_bytes(padding_length(key))
    return encipher_pin_block(key, block, challenge.data, padding)


# EMV 4.4 Book 3, 10.5.1 Offline PIN Processing; Book 2, 7.2 for the enciphered form
def offline_pin(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    session: PinSession,
    enciphered: bool,
) -> Result:
    if session.bypassed:
        ctx.tvr |= TVR.PIN_NOT_ENTERED
        return CvmOutcome.FAILED
    encipher: tuple[RandomSource, PublicKey] | None = None
    if enciphered:
        key = pin_encipherment_key(ctx)
        if key.key is None or not isinstance(callbacks, RandomSource):
            return CvmOutcome.FAILED  # Book 2, 7.1 step 3: PIN encipherment has failed
        encipher = (callbacks, key.key)
    counter = pin_try_counter(ctx, transport)
    if counter == 0:
        ctx.tvr |= TVR.PIN_TRY_LIMIT_EXCEEDED
        return CvmOutcome.FAILED
    kind = PinKind.OFFLINE_ENCIPHERED if enciphered else PinKind.OFFLINE_PLAINTEXT
    for _ in range(MAX_ATTEMPTS):
        entry = callbacks.enter_pin(_request(ctx, kind, counter))
        failed = _entry_failed(ctx, entry, session)
        if failed is not None:
            return failed
        pin = entry.offline
        if pin is None:
            ctx.tvr |= TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING
            return CvmOutcome.FAILED
        try:
            data = _verify_data(ctx, transport, pin.offline_pin_block(), encipher)
        finally:
            pin.wipe()
        if data is None:
            return CvmOutcome.FAILED
        p2 = P2_ENCIPHERED if enciphered else P2_PLAINTEXT
        response = apdu.exchange(ctx, transport, apdu.verify(p2, data))
        if response.ok:
            ctx.pin_entered_offline = True
            callbacks.display(DisplayMessage.PIN_OK)
            return CvmOutcome.SUCCESSFUL
        if response.sw in SW_BLOCKED or response.sw == 0x63C0:
            ctx.tvr |= TVR.PIN_TRY_LIMIT_EXCEEDED
            return CvmOutcome.FAILED
        if response.sw & 0xFFF0 != 0x63C0:
            return CvmOutcome.FAILED
        counter = response.sw & 0x0F
        callbacks.display(DisplayMessage.INCORRECT_PIN)
    return CvmOutcome.FAILED
