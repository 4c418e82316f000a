"""Properties of the kernel as a whole: monotone action analysis, no secrets out."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from emv.action import CryptogramType, terminal_action_analysis
from emv.bits import TVR
from emv.config import TerminalData
from emv.kernel import run_transaction
from tests.emv.scripted import FakeCard, RecordingCallbacks, config, context, t, txn

RANK = {CryptogramType.AAC: 0, CryptogramType.ARQC: 1, CryptogramType.TC: 2}
codes = st.binary(min_size=5, max_size=5)
optional_codes = st.one_of(st.none(), codes)


@given(
    st.integers(0, (1 << 40) - 1),
    st.integers(0, (1 << 40) - 1),
    st.sampled_from([0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x21, 0x22, 0x23]),
    codes,
    codes,
    codes,
    optional_codes,
    optional_codes,
    optional_codes,
)
def test_more_tvr_bits_never_give_a_better_cryptogram(
    tvr: int,
    extra: int,
    terminal_type: int,
    tac_denial: bytes,
    tac_online: bytes,
    tac_default: bytes,
    iac_denial: bytes | None,
    iac_online: bytes | None,
    iac_default: bytes | None,
) -> None:
    """Book 3, 10.7: a failed check can only push towards online or decline."""
    cfg = config(tac_denial=tac_denial, tac_online=tac_online, tac_default=tac_default)
    cfg = dataclasses.replace(cfg, terminal=TerminalData(terminal_type=terminal_type))

    def decide(bits: int) -> CryptogramType:
        ctx = context(cfg)
        ctx.aid_entry = cfg.aids[0]
        for tag, value in ((0x9F0E, iac_denial), (0x9F0F, iac_online), (0x9F0D, iac_default)):
            if value is not None:
                ctx.card[tag] = value
        ctx.tvr = TVR(bits)
        return terminal_action_analysis(ctx)

    before, after = decide(tvr), decide(tvr | extra)
    assert RANK[after] <= RANK[before]
    if terminal_type & 0x0F in (3, 6):
        assert before is not CryptogramType.ARQC  # offline-only terminals never ask online


@settings(max_examples=60, deadline=None)
@given(
    # varied digits and a name with letters beyond A-F, so neither can turn up by
    # chance inside hex text of unrelated data
    st.text("0123456789", min_size=12, max_size=19).filter(
        lambda p: p[0] != "0" and len(set(p)) >= 5
    ),
    st.text("GHIJKLMNOPQRSTUVWXYZ/", min_size=6, max_size=26),
    st.sampled_from([0x80, 0x40, 0x00]),
)
def test_no_pan_track_or_name_leaves_the_kernel(pan: str, name: str, cid: int) -> None:
    digits = pan + ("F" if len(pan) % 2 else "")
    track2 = bytes.fromhex(digits.replace("F", "") + "D30122011234" + ("F" if len(pan) % 2 else ""))
    card = FakeCard(
        pan_bcd=bytes.fromhex(digits),
        first_cid=cid,
        extra_record=t(0x57, track2) + t(0x5F20, name.encode()),
    )
    callbacks = RecordingCallbacks()
    result = run_transaction(card, config(), callbacks, txn())
    outputs = [repr(result), result.de55.hex().upper(), str(dict(result.receipt))]
    outputs += [repr(request) for request in callbacks.requests]
    outputs += [entry.response.hex().upper() + entry.description for entry in result.trace]
    for text in outputs:
        assert pan not in text
        assert name not in text


def test_context_repr_hides_card_data() -> None:
    from tests.emv.scripted import PAN, PAN_BCD

    ctx = context()
    ctx.card[0x5A] = PAN_BCD
    ctx.card[0x57] = PAN_BCD
    assert PAN.lower() not in repr(ctx).lower().replace("\\x", "")
    assert "card=" not in repr(ctx)
