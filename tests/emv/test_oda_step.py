"""EMV 4.4 Book 3, 10.3 as a kernel step: method choice, TVR/TSI bits, DDA and CDA."""

from __future__ import annotations

import hashlib

import pytest

from emv import oda
from emv.bits import TSI, TVR
from emv.callbacks import DefaultCallbacks
from emv.context import OdaMethod
from emv.oda.results import OdaFailure
from tests.emv import oda_chain as chain
from tests.emv.oda_card import UN, ScriptedCard, context, dda_card

ODA_BITS = (
    TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED
    | TVR.SDA_FAILED
    | TVR.DDA_FAILED
    | TVR.CDA_FAILED
    | TVR.ICC_DATA_MISSING
    | TVR.SDA_SELECTED
)


def run(ctx, card=None):  # type: ignore[no-untyped-def]
    return oda.perform(ctx, card or ScriptedCard(), DefaultCallbacks())


@pytest.mark.parametrize(
    ("capabilities", "aip", "method", "tvr"),
    [
        ("E0F8C8", "7D00", OdaMethod.CDA, TVR(0)),
        ("E0F8C0", "7D00", OdaMethod.DDA, TVR(0)),
        ("E0F880", "7D00", OdaMethod.SDA, TVR.SDA_SELECTED),
        ("E0F8C8", "5C00", OdaMethod.SDA, TVR.SDA_SELECTED),
        ("E0F800", "7D00", OdaMethod.NONE, TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED),
        ("E0F8C8", "1C00", OdaMethod.NONE, TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED),
    ],
)
def test_method_selection_and_success_bits(
    capabilities: str, aip: str, method: OdaMethod, tvr: TVR
) -> None:
    """Book 3, 10.3: CDA before DDA before SDA; none -> 'ODA not performed'."""
    ctx = context(capabilities, bytes.fromhex(aip))
    assert run(ctx, dda_card()) is None
    assert ctx.oda_method is method
    assert ctx.tvr & ODA_BITS == tvr
    performed = method in (OdaMethod.SDA, OdaMethod.DDA)
    assert (TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in ctx.tsi) is performed
    if method is not OdaMethod.NONE:
        assert ctx.terminal[0x9F22] == b"\xf1"
    if method is OdaMethod.SDA:
        assert ctx.card[0x9F45] == b"\xda\xc1"
    if method is OdaMethod.DDA:
        assert ctx.card[0x9F4C] == b"\x01\x02\x03\x04"


@pytest.mark.parametrize("capabilities", ["E0F880", "E0F8C0", "E0F8C8"])
@pytest.mark.parametrize("tag", [0x8F, 0x90, 0x9F32, 0x93, 0x9F46, 0x9F47])
def test_missing_data_sets_icc_data_missing(capabilities: str, tag: int) -> None:
    """Book 2 Tables 4 and 12; Book 3, 10.3: missing data -> method failed + ICC data missing."""
    ctx = context(capabilities)
    del ctx.card[tag]
    run(ctx, dda_card())
    method = ctx.oda_method
    needed = {OdaMethod.SDA: (0x8F, 0x90, 0x9F32, 0x93)}.get(
        method, (0x8F, 0x90, 0x9F32, 0x9F46, 0x9F47)
    )
    if tag in needed:
        assert TVR.ICC_DATA_MISSING in ctx.tvr
        assert oda.step.FAILED_BIT[method] in ctx.tvr
    else:
        assert ctx.tvr & ODA_BITS & ~TVR.SDA_SELECTED == TVR(0)


@pytest.mark.parametrize("capabilities", ["E0F880", "E0F8C0", "E0F8C8"])
def test_unknown_ca_key_fails_method_without_icc_data_missing(capabilities: str) -> None:
    ctx = context(capabilities)
    ctx.card[0x8F] = b"\x99"
    run(ctx, dda_card())
    assert oda.step.FAILED_BIT[ctx.oda_method] in ctx.tvr
    assert TVR.ICC_DATA_MISSING not in ctx.tvr
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in ctx.tsi
    assert not oda.cda_request_wanted(ctx)


@pytest.mark.parametrize("capabilities", ["E0F880", "E0F8C0"])
def test_static_data_rules(capabilities: str) -> None:
    """Book 3, 10.3: 9F4A may list only '82'; a non-70 record for ODA fails the method."""
    ctx = context(capabilities)
    ctx.card[0x9F4A] = b"\x82\x5a"
    run(ctx, dda_card())
    assert oda.step.FAILED_BIT[ctx.oda_method] in ctx.tvr
    ctx = context(capabilities)
    ctx.oda_record_invalid = True
    run(ctx, dda_card())
    assert oda.step.FAILED_BIT[ctx.oda_method] in ctx.tvr
    ctx = context(capabilities)
    ctx.oda_records += b"\x00"  # signed data changed
    run(ctx, dda_card())
    assert oda.step.FAILED_BIT[ctx.oda_method] in ctx.tvr


def test_revoked_issuer_certificate_fails_sda() -> None:
    ctx = context("E0F880")
    from emv.config import RevokedCertificate

    ctx.config = type(ctx.config)(
        terminal=ctx.config.terminal,
        aids=ctx.config.aids,
        ca_keys=ctx.config.ca_keys,
        revoked=frozenset({RevokedCertificate(bytes.fromhex("A000000003"), 0xF1, b"\x00\x00\x01")}),
    )
    run(ctx)
    assert TVR.SDA_FAILED in ctx.tvr


def test_dda_uses_default_ddol_and_requires_un() -> None:
    ctx = context("E0F8C0")
    del ctx.card[0x9F49]
    card = dda_card()
    run(ctx, card)
    assert TVR.DDA_FAILED not in ctx.tvr
    assert card.commands[-1][5:9] == UN  # default DDOL 9F3704
    ctx = context("E0F8C0")
    ctx.card[0x9F49] = bytes.fromhex("9F0206")
    run(ctx, dda_card())
    assert TVR.DDA_FAILED in ctx.tvr
    ctx = context("E0F8C0")
    del ctx.card[0x9F49]
    ctx.aid_entry = type(ctx.aid_entry)(ctx.aid_entry.aid, default_ddol=b"")  # type: ignore[arg-type,union-attr]
    run(ctx, dda_card())
    assert TVR.DDA_FAILED in ctx.tvr


def test_dda_card_errors() -> None:
    ctx = context("E0F8C0")
    run(ctx, ScriptedCard({0x88: lambda apdu: b"\x69\x85"}))
    assert TVR.DDA_FAILED in ctx.tvr and TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in ctx.tsi
    ctx = context("E0F8C0")
    run(ctx, dda_card(header=0x6B))
    assert TVR.DDA_FAILED in ctx.tvr
    ctx = context("E0F8C0")
    outcome = run(ctx, ScriptedCard({0x88: lambda apdu: b"\x81\x02\x00\x00\x90\x00"}))
    assert outcome is not None and outcome.reason is not None


def test_dda_format_2_response() -> None:
    def internal_authenticate(apdu: bytes) -> bytes:
        sdad = chain.signed_dynamic_data(chain.icc_key(), b"\x09\x09", apdu[5:9])
        body = b"\x9f\x4b\x81\x80" + sdad
        return b"\x77\x81" + bytes([len(body)]) + body + b"\x90\x00"

    ctx = context("E0F8C0")
    run(ctx, ScriptedCard({0x88: internal_authenticate}))
    assert TVR.DDA_FAILED not in ctx.tvr and ctx.card[0x9F4C] == b"\x09\x09"


AC = bytes.fromhex("1122334455667788")


def genac_response(ctx, cid: int = 0x80, cdol2: bytes | None = None, **fields: object) -> bytes:  # type: ignore[no-untyped-def]
    clear = bytes([0x9F, 0x27, 0x01, cid]) + bytes.fromhex("9F360200019F10020102")
    cdol_values = ctx.cdol1_data + (cdol2 or b"")
    tdhc = hashlib.sha1(ctx.pdol_data + cdol_values + clear).digest()
    sdad = chain.cda_signature(
        chain.icc_key(), b"\x05\x06", fields.pop("signed_cid", cid), AC, tdhc, UN, **fields
    )  # type: ignore[arg-type]
    body = clear + b"\x9f\x4b\x81\x80" + sdad
    return b"\x77\x81" + bytes([len(body)]) + body


def cda_context():  # type: ignore[no-untyped-def]
    ctx = context("E0F8C8")
    run(ctx)
    ctx.pdol_data = bytes.fromhex("0826")
    ctx.cdol1_data = bytes.fromhex("000000001000") + UN
    return ctx


def test_cda_first_and_second_generate_ac() -> None:
    ctx = cda_context()
    assert oda.cda_request_wanted(ctx)
    assert oda.verify_cda(ctx, genac_response(ctx), ctx.cdol1_data, False)
    assert ctx.card[0x9F26] == AC and ctx.genac1[0x9F26] == AC and ctx.card[0x9F4C] == b"\x05\x06"
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in ctx.tsi and TVR.CDA_FAILED not in ctx.tvr
    cdol2 = b"\x30\x30" + UN
    assert oda.verify_cda(ctx, genac_response(ctx, 0x40, cdol2), cdol2, True)
    # the first GENERATE AC's hash input does not verify as a second one
    assert not oda.verify_cda(ctx, genac_response(ctx, 0x40), cdol2, True)
    assert TVR.CDA_FAILED in ctx.tvr


@pytest.mark.parametrize(
    ("mutate", "failure"),
    [
        (
            lambda raw: raw.replace(b"\x9f\x27\x01\x80", b"\x9f\x27\x01\x40"),
            OdaFailure.CID_MISMATCH,
        ),
        (lambda raw: b"\x80" + raw[1:], OdaFailure.NOT_FORMAT_2),
        (lambda raw: raw[:-3], OdaFailure.NOT_FORMAT_2),
        (
            lambda raw: raw.replace(b"\x9f\x36\x02\x00\x01", b"\x9f\x36\x02\x00\x02"),
            OdaFailure.TRANSACTION_DATA_HASH,
        ),
    ],
)
def test_cda_failures(mutate, failure: OdaFailure) -> None:  # type: ignore[no-untyped-def]
    ctx = cda_context()
    raw = mutate(genac_response(ctx))
    assert oda.check_cda(ctx, raw, ctx.cdol1_data, False) is failure
    assert not oda.verify_cda(ctx, raw, ctx.cdol1_data, False)
    assert TVR.CDA_FAILED in ctx.tvr


def test_cda_without_signature_and_bad_signature() -> None:
    ctx = cda_context()
    raw = bytes.fromhex("770F9F2701809F360200019F2608") + AC
    raw = bytes([0x77, len(raw) - 2]) + raw[2:]
    assert oda.check_cda(ctx, raw, ctx.cdol1_data, False) is OdaFailure.SDAD_MISSING
    assert (
        oda.check_cda(ctx, genac_response(ctx, header=0x00), ctx.cdol1_data, False)
        is OdaFailure.HEADER
    )
    ctx.card[0x9F46] = ctx.card[0x9F46][::-1]
    assert (
        oda.check_cda(ctx, genac_response(ctx), ctx.cdol1_data, False)
        is OdaFailure.KEY_NOT_RECOVERED
    )


def test_cda_key_failure_before_action_analysis() -> None:
    """Book 4, 6.3.2.1: a failure before TAA sets 'CDA failed' and CDA is not requested."""
    ctx = context("E0F8C8")
    ctx.card[0x93] = b""  # irrelevant to CDA
    ctx.card[0x9F46] = ctx.card[0x9F46][:-1]
    run(ctx)
    assert TVR.CDA_FAILED in ctx.tvr and not oda.cda_request_wanted(ctx)
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in ctx.tsi


def test_pin_encipherment_key_prefers_pin_key_then_icc_key() -> None:
    ctx = context()
    assert oda.pin_encipherment_key(ctx).key == chain.pin_key().public
    del ctx.card[0x9F2D]
    assert oda.pin_encipherment_key(ctx).key == chain.icc_key().public
    del ctx.card[0x9F46]
    assert oda.pin_encipherment_key(ctx).failure is OdaFailure.ICC_DATA_MISSING
