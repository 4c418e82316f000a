"""Property tests: any CVM List and any card/PIN pad behaviour ends in a documented state."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emv import cvm
from emv.bits import TVR, CvmList, FieldLengthError
from emv.callbacks import PinEntry, PinStatus
from emv.outcome import TerminationReason
from tests.emv.cvm_support import BAD_BLOCK, GOOD_BLOCK, PinCard, PinPad, entered
from tests.emv.oda_card import context

entries = st.lists(
    st.one_of(
        st.sampled_from([PinStatus.BYPASSED, PinStatus.PINPAD_FAULT, PinStatus.CANCELLED]).map(
            PinEntry
        ),
        st.sampled_from([GOOD_BLOCK, BAD_BLOCK]).map(entered),
        st.just(PinEntry(PinStatus.ENTERED, online_block=b"\x01" * 8)),
    ),
    max_size=6,
)
rules = st.lists(st.tuples(st.integers(0, 0x7F), st.integers(0, 0x0B)).map(bytes), max_size=8).map(
    b"".join
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=rules,
    amounts=st.binary(min_size=8, max_size=8),
    caps=st.integers(0, 0xFF),
    pad_entries=entries,
    tries=st.one_of(st.none(), st.integers(0, 3)),
    other_sw=st.sampled_from([None, b"\x69\x83", b"\x6a\x81", b"\x63\xc0"]),
    amount=st.integers(0, 10_000),
    kind=st.sampled_from([0x00, 0x01, 0x09]),
)
def test_cvm_always_ends_documented(  # type: ignore[no-untyped-def]
    body, amounts, caps, pad_entries, tries, other_sw, amount, kind
) -> None:
    ctx = context(f"E0{caps:02X}C8", amount=amount, transaction_type=kind)
    ctx.card[0x8E] = amounts + body
    ctx.card[0x9F42] = b"\x08\x26"
    outcome = cvm.perform(ctx, PinCard(tries=tries, other_sw=other_sw), PinPad(list(pad_entries)))
    if outcome is not None:
        assert outcome.reason is TerminationReason.CANCELLED
        return
    results = ctx.cvm_results
    assert len(results) == 3 and results[2] in (0, 1, 2)
    failed = TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL in ctx.tvr
    assert failed == (results[2] == 1)
    if body == b"":
        assert results == bytes.fromhex("3F0000")


@given(st.binary(max_size=40))
def test_parse_cvm_list_never_misbehaves(raw: bytes) -> None:
    try:
        parsed = cvm.parse_cvm_list(raw)
    except FieldLengthError:
        assert len(raw) < 8 or len(raw) % 2
        return
    assert isinstance(parsed, CvmList)
    # CV Rule byte 1 b8 is RFU (Book 3, Annex C3): not kept
    expected = bytearray(raw)
    for i in range(8, len(raw), 2):
        expected[i] &= 0x7F
    assert parsed.to_bytes() == bytes(expected)
