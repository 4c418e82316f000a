"""Replay recorded card sessions (emv.recording) against the real kernel.

Used by ``posterm replay`` (one recording) and ``posterm certify`` (a suite). The
cardholder and the host are played from the recording: the TEST card PIN goes
through the same PIN-pad consumer a real keypad uses, the host answer and the
random padding come back exactly as recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from emv.callbacks import (
    Candidate,
    DefaultCallbacks,
    OnlineRequest,
    OnlineResponse,
    PinEntry,
    PinKind,
    PinRequest,
    PinStatus,
)
from emv.context import TransactionContext
from emv.kernel import run_context
from emv.outcome import KernelResult
from emv.recording import Recording, ReplayTransport, mismatches
from hal.pinentry import offline_pin_consumer

ONLINE_PIN_PLACEHOLDER = bytes(8)  # the card never sees the online PIN block


class ReplayCallbacks(DefaultCallbacks):
    """Answers the kernel's questions from the recording."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self._random = recording.random
        self.went_online = False

    def choose_application(self, candidates: Sequence[Candidate]) -> int | None:
        return self.recording.choice

    def enter_pin(self, request: PinRequest) -> PinEntry:
        if not self.recording.pin:
            return PinEntry(PinStatus.PINPAD_FAULT)
        if request.kind is PinKind.ONLINE:
            return PinEntry(PinStatus.ENTERED, online_block=ONLINE_PIN_PLACEHOLDER)
        digits = bytearray(self.recording.pin.encode("ascii"))
        return PinEntry(PinStatus.ENTERED, offline=offline_pin_consumer(digits))

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        self.went_online = True
        return self.recording.online


class EncipheringReplayCallbacks(ReplayCallbacks):
    """Also a random source (emv.cvm RandomSource): offered only when the recorded
    terminal handed out random padding, as offline enciphered PIN depends on it."""

    def random_bytes(self, length: int) -> bytes:
        taken, self._random = self._random[:length], self._random[length:]
        return taken.ljust(length, b"\x00")


@dataclass(frozen=True, slots=True)
class ReplayReport:
    name: str
    result: KernelResult
    divergence: str = ""  # the kernel left the recorded path (first difference)
    unused_exchanges: int = 0  # recorded exchanges the kernel never asked for
    differences: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.divergence and not self.unused_exchanges and not self.differences


def replay(recording: Recording) -> ReplayReport:
    """Run the kernel over ``recording``; never raises for what the recording holds."""
    transport = ReplayTransport(recording.exchanges)
    ctx = TransactionContext.new(recording.config, recording.txn)
    callbacks = (EncipheringReplayCallbacks if recording.random else ReplayCallbacks)(recording)
    result = run_context(ctx, transport, callbacks)
    divergence = str(transport.divergence) if transport.divergence is not None else ""
    unused = len(recording.exchanges) - transport.position
    return ReplayReport(
        name=recording.name,
        result=result,
        divergence=divergence,
        unused_exchanges=0 if divergence else unused,
        differences=mismatches(recording.expected, result),
    )
