"""hypothesis over card responses: the kernel always ends in a documented outcome.

KERNEL_FUZZ_EXAMPLES (default 300) scales the run; 4000 passed when this was written.

Responses of a working card (hand-built and sim.card) are mutated at random
positions: replaced, truncated, bit-flipped, given another status word. Whatever
happens, run_transaction returns a KernelResult whose decision is a Decision;
it never raises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import sim.card as sim_card
from emv.callbacks import OnlineResponse, PinEntry, PinRequest, PinStatus
from emv.kernel import run_transaction
from emv.outcome import Decision, KernelResult
from emv.transport import CardTransport
from tests.emv.scripted import FakeCard, RecordingCallbacks, config, t, txn
from tests.emv.sim_support import PinCallbacks, sim_config

STATUS_WORDS = [
    0x9000,
    0x6283,
    0x6985,
    0x6A81,
    0x6A82,
    0x6A83,
    0x6A88,
    0x6300,
    0x63C0,
    0x6983,
    0x6D00,
    0x6700,
]


@dataclass(frozen=True)
class Mutation:
    index: int  # which exchange (0-based) to change
    kind: str
    payload: bytes
    position: int
    sw: int

    def apply(self, response: bytes) -> bytes:
        data, sw = response[:-2], response[-2:]
        if self.kind == "replace":
            return self.payload
        if self.kind == "truncate":
            return response[: self.position % (len(response) + 1)]
        if self.kind == "flip" and data:
            at = self.position % len(data)
            return data[:at] + bytes((data[at] ^ (1 << (self.position % 8)),)) + data[at + 1 :] + sw
        if self.kind == "sw":
            return data + self.sw.to_bytes(2, "big")
        if self.kind == "append":
            return data + self.payload + sw
        return response


mutations = st.builds(
    Mutation,
    index=st.integers(0, 24),
    kind=st.sampled_from(["replace", "truncate", "flip", "sw", "append"]),
    payload=st.binary(max_size=40),
    position=st.integers(0, 400),
    sw=st.sampled_from(STATUS_WORDS),
)


class MutatingTransport:
    def __init__(self, inner: CardTransport, changes: list[Mutation]) -> None:
        self.inner = inner
        self.changes = {change.index: change for change in changes}
        self.count = 0

    def transmit(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        change = self.changes.get(self.count)
        self.count += 1
        return change.apply(response) if change else response


def check(result: KernelResult) -> None:
    event(f"{result.decision.value} {result.reason.name if result.reason else ''}")
    assert isinstance(result.decision, Decision)
    assert len(result.tvr) == 5 and len(result.tsi) == 2 and len(result.cvm_results) == 3
    if result.decision.approved:
        assert result.cryptogram_type == "TC"


online_answers = st.one_of(
    st.none(),
    st.builds(
        OnlineResponse,
        approved=st.booleans(),
        response_code=st.sampled_from([b"00", b"05", b"51", b"Z"]),
        issuer_authentication_data=st.binary(max_size=18),
        scripts=st.lists(
            st.one_of(
                st.binary(max_size=20),
                st.builds(
                    lambda tag, cmd: t(tag, t(0x86, cmd)),
                    st.sampled_from([0x71, 0x72]),
                    st.binary(min_size=4, max_size=12),
                ),
            ),
            max_size=3,
        ).map(tuple),
    ),
)


@settings(
    max_examples=int(os.environ.get("KERNEL_FUZZ_EXAMPLES", "300")),
    suppress_health_check=[HealthCheck.too_slow],
    deadline=None,
)
@given(st.lists(mutations, max_size=3), online_answers, st.booleans())
def test_hand_built_card_mutated(
    changes: list[Mutation], online: OnlineResponse | None, pse: bool
) -> None:
    card = FakeCard(use_pse=pse, aip=b"\x1c\x00")
    result = run_transaction(
        MutatingTransport(card, changes), config(), RecordingCallbacks(online), txn()
    )
    check(result)


@settings(
    max_examples=int(os.environ.get("KERNEL_FUZZ_EXAMPLES", "300")) // 2 or 1,
    suppress_health_check=[HealthCheck.too_slow],
    deadline=None,
)
@given(
    st.sampled_from(
        ["visa-cda", "mc-dda", "visa-sda", "visa-offline-pin", "mc-enc-pin", "multi-app"]
    ),
    st.lists(mutations, max_size=2),
    online_answers,
)
def test_sim_cards_mutated(
    name: str, changes: list[Mutation], online: OnlineResponse | None
) -> None:
    card = sim_card.VirtualCard(sim_card.load_profile(name))
    transport = MutatingTransport(card, changes)
    result = run_transaction(transport, sim_config(), PinCallbacks(online=online), txn())
    check(result)


class ErraticPinPad(PinCallbacks):
    """PIN entry that answers from a drawn list of statuses and PINs."""

    def __init__(self, answers: list[tuple[PinStatus, str]], online: OnlineResponse | None) -> None:
        super().__init__(online=online)
        self.answers = answers or [(PinStatus.ENTERED, "1234")]
        self.turn = 0

    def enter_pin(self, request: PinRequest) -> PinEntry:
        status, digits = self.answers[self.turn % len(self.answers)]
        self.turn += 1
        if status is not PinStatus.ENTERED:
            return PinEntry(status)
        self.pin = digits
        return super().enter_pin(request)

    def random_bytes(self, length: int) -> bytes:
        return bytes(length)


@settings(
    max_examples=int(os.environ.get("KERNEL_FUZZ_EXAMPLES", "300")) // 3 or 1,
    suppress_health_check=[HealthCheck.too_slow],
    deadline=None,
)
@given(
    st.sampled_from(
        ["visa-cda", "visa-offline-pin", "mc-enc-pin", "visa-online-pin", "visa-pin-blocked"]
    ),
    st.lists(
        st.tuples(
            st.sampled_from(list(PinStatus)),
            st.sampled_from(["1234", "4321", "0000", "123456789012"]),
        ),
        max_size=4,
    ),
    online_answers,
    st.booleans(),
)
def test_pin_entry_and_configuration_variations(
    name: str, answers: list[tuple[PinStatus, str]], online: OnlineResponse | None, bypass: bool
) -> None:
    card = sim_card.VirtualCard(sim_card.load_profile(name))
    config = sim_config(pin_bypass_allowed=bypass)
    check(run_transaction(card, config, ErraticPinPad(answers, online), txn()))
