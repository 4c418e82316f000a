"""sim.host building blocks: codec (property tests), the host's fast DUKPT/MAC paths held
equal to keys.dukpt / keys.mac / psec, rules parsing and the ledger's query API."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psec import mac as psec_mac

from keys import dukpt
from keys import mac as keys_mac
from sim.host import Ledger, RulesError, codec, load_rules, rules_from_dict, security
from sim.host.errors import FieldError, FrameError
from sim.host.ledger import mask_pan, safe_fields
from sim.host.processor import response_mti

EXAMPLE = Path(__file__).resolve().parents[2] / "sim" / "host" / "rules-example.toml"

# --- codec ---

tags = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@settings(deadline=None)
@given(st.dictionaries(tags, values, max_size=6))
def test_de48_round_trip(elements: dict[str, str]) -> None:
    assert codec.parse_de48(codec.build_de48(elements)) == elements


@settings(deadline=None)
@given(st.text(max_size=30))
def test_de48_parser_never_crashes(value: str) -> None:
    with contextlib.suppress(FieldError):
        codec.parse_de48(value)


def test_de48_overrun_is_a_field_error() -> None:
    with pytest.raises(FieldError, match="runs past"):
        codec.parse_de48("KS020ABC")


numeric = st.text("0123456789", min_size=1, max_size=12)


@settings(deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "t": st.sampled_from(["0200", "0400", "0500"]),
            "11": st.text("0123456789", min_size=6, max_size=6),
        },
        optional={
            "2": st.text("0123456789", min_size=12, max_size=19),
            "4": st.text("0123456789", min_size=12, max_size=12),
            "90": st.text("0123456789", min_size=42, max_size=42),
            "88": st.text("0123456789", min_size=16, max_size=16),
        },
    ),
    st.binary(min_size=16, max_size=16),
)
def test_mac_is_last_field_and_verifies(fields: dict[str, str], key: bytes) -> None:
    """host-spec "Security": DE 64 without fields > 64, else DE 128; MAC covers all before it."""
    raw = codec.encode_with_mac(fields, lambda body: security.retail_mac(key, body))
    decoded = codec.decode(raw)
    want = "128" if ("90" in fields or "88" in fields) else "64"
    assert want in decoded and ("1" in decoded) == (want == "128")
    parts = codec.mac_parts(raw, decoded)
    assert parts is not None and security.mac_ok(key, parts[0], parts[1])
    flipped = raw[:4] + bytes([raw[4] ^ 0x01]) + raw[5:]  # MAC covers the bitmap too
    assert security.retail_mac(key, flipped[:-8]) != raw[-8:]


def test_mac_in_wrong_field_is_refused() -> None:
    raw = codec.encode({"t": "0400", "11": "000001", "90": "0" * 42, "64": "00" * 8})
    assert codec.mac_parts(raw, codec.decode(raw)) is None


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_decode_raises_only_frame_error(raw: bytes) -> None:
    with contextlib.suppress(FrameError):
        codec.decode(raw)


@pytest.mark.parametrize(
    ("mti", "resp"),
    [
        ("0800", "0810"),
        ("0100", "0110"),
        ("0200", "0210"),
        ("0220", "0230"),
        ("0320", "0330"),
        ("0400", "0410"),
        ("0401", "0410"),
        ("0500", "0510"),
    ],
)
def test_response_mti(mti: str, resp: str) -> None:
    assert response_mti(mti) == resp


def test_frame_reader_limits() -> None:
    a, b = socket.socketpair()
    try:
        a.sendall(codec.frame(b"0800") + (4097).to_bytes(2, "big"))
        assert codec.read_frame(b) == b"0800"
        with pytest.raises(FrameError, match="exceeds 4096"):
            codec.read_frame(b)
        a.sendall((10).to_bytes(2, "big") + b"abc")
        a.close()
        with pytest.raises(FrameError, match="short read"):
            codec.read_frame(b)
    finally:
        b.close()


# --- fast paths equal to the reference implementations ---


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(max_size=300))
def test_retail_mac_equals_keys_mac_and_psec(key: bytes, data: bytes) -> None:
    """ISO 9797-1 alg. 3 / padding 1: the host's one-pass MAC == keys.mac == psec."""
    ours = security.retail_mac(key, data)
    assert ours == keys_mac.retail_mac(key, data)
    if data:
        assert ours == psec_mac.generate_retail_mac(key[:8], key[8:], data, padding=1)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=8, max_size=8),
    st.one_of(st.none(), st.binary(min_size=8, max_size=8)),
    st.text("0123456789", min_size=4, max_size=12),
)
def test_pin_decryption_equals_two_key_tdes(k1: bytes, k2: bytes | None, pin: str) -> None:
    """The host's single-DES composition == pycryptodome TDES (and single DES when
    K1 == K2, which DES3.new refuses): the PIN comes back from a format 0 block."""
    from Crypto.Cipher import DES, DES3
    from psec import pinblock as psec_pinblock

    key = k1 + (k2 if k2 is not None else k1)
    pan = "4761739001010010"
    clear = psec_pinblock.encode_pinblock_iso_0(pin, pan)
    try:
        block = DES3.new(key + key[:8], DES3.MODE_ECB).encrypt(clear)
    except ValueError:  # degenerate TDES key: it is single DES under K1
        block = DES.new(key[:8], DES.MODE_ECB).encrypt(clear)
    keys = security.SessionKeys(pin=key, mac_request=key, mac_response=key)
    assert security.decrypt_pin(keys, block, pan) == pin


counters = st.integers(min_value=1, max_value=(1 << 21) - 1).filter(
    lambda c: bin(c).count("1") <= 10
)


@settings(max_examples=60, deadline=None)
@given(st.lists(counters, min_size=1, max_size=8), st.binary(min_size=8, max_size=8))
def test_memoised_dukpt_equals_keys_dukpt(seq: list[int], device: bytes) -> None:
    """X9.24-1 A.3: the host's memoised walk gives keys.dukpt's key for any order of KSNs."""
    bdk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    host = security.DukptHost(bdk, cache_size=4)
    base = int.from_bytes(device + b"\x00\x00", "big") & ~((1 << 21) - 1)
    for counter in seq:
        ksn = (base | counter).to_bytes(10, "big")
        key = dukpt.derive_transaction_key(dukpt.derive_ipek(bdk, ksn), ksn)
        got = host.keys_for(ksn)
        assert got.pin == dukpt.pin_variant(key)
        assert got.mac_request == dukpt.mac_request_variant(key)
        assert got.mac_response == dukpt.mac_response_variant(key)


def test_session_keys_repr_hides_keys() -> None:
    keys = security.DukptHost(bytes(16)).keys_for(bytes.fromhex("FFFF9876543210E00001"))
    assert keys.pin.hex() not in repr(keys) and "hidden" in repr(keys)


@pytest.mark.parametrize("text", ["XYZ", "FFFF9876543210E0000", "FFFF9876543210E0000100"])
def test_bad_ksn(text: str) -> None:
    with pytest.raises(FieldError):
        security.parse_ksn(text)


# --- rules ---


def test_example_rules_load() -> None:
    rules = load_rules(EXAMPLE)
    assert rules.card_for("4761739001010010") is not None
    assert rules.card_for("5413330000000000") is not None and rules.card_for("9999") is None
    assert rules.issuer_for("4761739001010010") is not None
    assert (
        rules.voucher("GIFT-2026-0001") is not None and rules.qr_code("WALLET:8d1f0c2e") is not None
    )
    assert "0123456789ABCDEF" not in repr(rules.issuer_for("4761739001010010"))


def test_longest_prefix_and_exact_pan_win() -> None:
    rules = rules_from_dict(
        {
            "cards": [
                {"prefix": "4", "response": "05"},
                {"prefix": "4761"},
                {"pan": "4761000000000000", "response": "57"},
            ]
        }
    )
    assert rules.card_for("4761000000000001").prefix == "4761"
    assert rules.card_for("4000000000000000").response == "05"
    assert rules.card_for("4761000000000000").response == "57"


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"cards": [{"pan": "1", "prefix": "1"}]}, "cards[0]"),
        ({"cards": [{"pan": "12ab"}]}, "cards[0].pan"),
        ({"cards": [{"pan": "1", "response": "99"}]}, "cards[0].response"),
        ({"issuers": [{"prefix": "4", "mk_ac": "00"}]}, "issuers[0].mk_ac"),
        ({"issuers": [{"prefix": "4", "mk_ac": "00" * 16, "cvn": "amex"}]}, "issuers[0].cvn"),
        ({"vouchers": [{"value": 1}]}, "'code'"),
        ({"cards": {"pan": "1"}}, "cards"),
        ({"host": {"today": "25/11/2026"}}, "host.today"),
        ({"cards": [{"pan": "1", "scripts": ["format_card"]}]}, "cards[0].scripts"),
        ({"cards": [{"pan": "1", "scripts": ["pin_change:12"]}]}, "cards[0].scripts"),
    ],
)
def test_bad_rules_name_the_place(doc: dict, where: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(RulesError) as info:
        rules_from_dict(doc)
    assert info.value.where == where


def test_rules_file_not_toml(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text("[cards\n")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(bad)


# --- ledger ---


def test_mask_pan() -> None:
    assert mask_pan("4761739001010010") == "476173******0010"
    assert mask_pan("123") == "***"


def test_safe_fields_drop_secrets() -> None:
    stored = safe_fields(
        {
            "2": "4761739001010010",
            "35": "4761739001010010=3012",
            "52": "00" * 8,
            "55": "5A0847617390010100109F2701809F36020001570B4761739001010010D30122",
        }
    )
    text = str(stored)
    assert "4761739001010010" not in text and "D3012" not in text and "9F27" in text
    assert stored["52"] == "<present>"


def test_group_commit_is_durable_and_concurrent(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    ledger = Ledger(path)

    def work(n: int) -> None:
        for i in range(20):
            with ledger.transaction():
                ledger.add_txn(
                    tid=f"T{n}",
                    batch="000001",
                    stan=f"{i:06d}",
                    mti="0200",
                    pcode="000000",
                    kind="sale",
                    amount=1,
                    rc="00",
                    state="authorised",
                    pan="4761739001010010",
                )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # a second connection (another process would do the same) sees every committed row
    with Ledger(path) as reader:
        assert len(reader.charges(pan="4761739001010010")) == 100
        assert reader.net_amount(pan="4761739001010010") == 100
    ledger.close()


def test_failed_request_rolls_back_only_itself(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        with ledger.transaction():
            ledger.mark_stan("T", "000001", "000001", "0200")
        with pytest.raises(RuntimeError), ledger.transaction():
            ledger.mark_stan("T", "000001", "000002", "0200")
            raise RuntimeError("boom")
        assert ledger.stan_seen("T", "000001", "000001")
        assert not ledger.stan_seen("T", "000001", "000002")


def test_batches_open_and_close(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.open_batch("T", None) == "000001"
        ledger.close_batch("T", "000001")
        assert ledger.open_batch("T", None) == "000002"
        assert ledger.open_batch("T", "000042") == "000042"
