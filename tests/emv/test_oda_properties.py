"""Property tests: arbitrary card bytes never make ODA raise (Book 2 checks just fail)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from emv import oda
from emv.bits import TVR
from emv.oda.results import OdaFailure
from emv.oda.signatures import verify_cda_signature, verify_dda, verify_sda
from tests.emv import oda_chain as chain
from tests.emv.oda_card import context

N_CA = 176


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=N_CA, max_size=N_CA), st.binary(max_size=40), st.binary(max_size=3))
def test_random_issuer_certificates_fail_cleanly(
    cert: bytes, remainder: bytes, exponent: bytes
) -> None:
    result = oda.recover_issuer_key(
        cert,
        chain.ca_key().public,
        exponent=exponent,
        remainder=remainder,
        pan=b"\x47\x61",
        today=dt.date(2026, 1, 1),
        rid=b"\xa0\x00\x00\x00\x03",
        ca_index=1,
    )
    assert result.failure is not None or result.key is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=140))
def test_random_signatures_fail_cleanly(signature: bytes) -> None:
    key = chain.icc_key().public
    assert not verify_sda(signature, key, b"").ok
    assert not verify_dda(signature, key, b"").ok
    result = verify_cda_signature(
        signature, key, unpredictable_number=b"1234", response_cid=0x80, transaction_hash=bytes(20)
    )
    assert isinstance(result.failure, OdaFailure)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_generate_ac_responses_never_raise(raw: bytes) -> None:
    ctx = context("E0F8C8")
    oda.perform(ctx, None, None)  # type: ignore[arg-type]
    assert oda.verify_cda(ctx, raw, b"", False) is False
    assert TVR.CDA_FAILED in ctx.tvr


card_fields = st.fixed_dictionaries(
    {},
    optional={
        0x8F: st.binary(max_size=2),
        0x90: st.binary(max_size=180),
        0x92: st.binary(max_size=30),
        0x9F32: st.binary(max_size=3),
        0x93: st.binary(max_size=170),
        0x9F46: st.binary(max_size=170),
        0x9F47: st.binary(max_size=3),
        0x9F49: st.binary(max_size=6),
        0x9F4A: st.binary(max_size=3),
        0x5A: st.binary(max_size=10),
    },
)


@settings(max_examples=200, deadline=None)
@given(card_fields, st.sampled_from(["E0F880", "E0F8C0", "E0F8C8"]), st.binary(max_size=140))
def test_oda_step_never_raises_on_card_data(fields, capabilities, answer) -> None:  # type: ignore[no-untyped-def]
    """Book 3, 10.3: whatever the card holds, ODA ends with TVR bits, not an exception."""
    from tests.emv.oda_card import ScriptedCard

    ctx = context(capabilities)
    ctx.card.update(fields)
    outcome = oda.perform(ctx, ScriptedCard({0x88: lambda apdu: answer + b"\x90\x00"}), None)  # type: ignore[arg-type]
    assert outcome is None or outcome.reason is not None
    failed = TVR.SDA_FAILED | TVR.DDA_FAILED | TVR.CDA_FAILED
    if TVR.ICC_DATA_MISSING in ctx.tvr:
        assert ctx.tvr & failed
