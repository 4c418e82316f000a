"""The card's command set and status words (EMV 4.4 Book 1 11, Book 3 6 and 10),
card risk decisions, PIN try counter, and a property test that no APDU crashes it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.card import VirtualCard, load_profile
from sim.card.dol import dol_length, parse_dol, split_dol_data
from tests.sim.test_card_kit import (
    PPSE,
    PSE,
    apdu,
    generate_ac,
    select_and_read,
    tlv_flat,
    tlv_items,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _card(name: str) -> VirtualCard:
    return VirtualCard(load_profile(name))


def _send(card: VirtualCard, command: bytes | str) -> tuple[bytes, int]:
    raw = bytes.fromhex(command) if isinstance(command, str) else command
    response = card.transmit(raw)
    return response[:-2], int.from_bytes(response[-2:], "big")


def test_pse_directory_lists_every_application() -> None:
    card = _card("multi-app")
    fci, sw = _send(card, apdu("00A40400", PSE))
    assert sw == 0x9000
    assert tlv_flat(fci)["88"] == b"\x01"
    labels = []
    for number in (1, 2):
        body, sw = _send(card, f"00B2{number:02X}0C00")
        assert sw == 0x9000
        entry = tlv_flat(body)
        labels.append(entry["50"])
        assert entry["87"][0] & 0x80, "cardholder confirmation required"
    assert labels == [b"VISA CREDIT", b"VISA DEBIT"]
    assert _send(card, "00B2030C00")[1] == 0x6A83
    assert _send(card, "00B2011400")[1] == 0x6A82


def test_ppse_on_contactless_card_and_no_pse() -> None:
    card = _card("visa-qvsdc")
    assert _send(card, apdu("00A40400", PSE))[1] == 0x6A82
    fci, sw = _send(card, apdu("00A40400", PPSE))
    assert sw == 0x9000
    entries = tlv_items(tlv_flat_constructed(fci, "BF0C"))
    assert [t for t, _ in entries] == ["61"]
    assert tlv_flat(entries[0][1])["4F"] == bytes.fromhex("A0000000031010")


def tlv_flat_constructed(data: bytes, tag: str) -> bytes:
    for t, v in tlv_items(data):
        if t == tag:
            return v
        if int(t[:2], 16) & 0x20:
            found = tlv_flat_constructed(v, tag)
            if found:
                return found
    return b""


def test_select_partial_name_next_occurrence() -> None:
    card = _card("multi-app")
    fci, sw = _send(card, apdu("00A40400", bytes.fromhex("A000000003")))
    assert sw == 0x9000 and tlv_flat(fci)["84"] == bytes.fromhex("A0000000031010")
    fci, sw = _send(card, apdu("00A40402", bytes.fromhex("A000000003")))
    assert sw == 0x9000 and tlv_flat(fci)["84"] == bytes.fromhex("A0000000032010")
    assert _send(card, apdu("00A40402", bytes.fromhex("A000000003")))[1] == 0x6A82
    assert _send(card, apdu("00A40400", bytes.fromhex("A0000000049999")))[1] == 0x6A82
    assert _send(card, apdu("00A40000", bytes.fromhex("3F00")))[1] == 0x6A86


def test_application_fci_content() -> None:
    fci, sw = _send(_card("visa-cda"), apdu("00A40400", bytes.fromhex("A0000000031010")))
    assert sw == 0x9000
    flat = tlv_flat(fci)
    assert flat["50"] == b"VISA CREDIT" and flat["9F12"] == b"Visa Credit"
    assert flat["87"] == b"\x01" and flat["9F38"] == bytes.fromhex("9F1A02")
    assert flat["9F4D"] == bytes([11, 10])


def test_blocked_application_selects_with_6283_and_refuses_gpo() -> None:
    card = _card("visa-blocked")
    fci, sw = _send(card, apdu("00A40400", bytes.fromhex("A0000000031010")))
    assert sw == 0x6283 and fci[0] == 0x6F
    assert _send(card, "80A8000002830000")[1] == 0x6985


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        ("80A8000002830000", 0x6985),  # GPO with nothing selected
        ("80AE8000020000", 0x6985),
        ("00B2010C00", 0x6985),
        ("00CA9F3600", 0x6D00),  # GET DATA needs CLA 80
        ("80CA9F3600", 0x6A88),
        ("0011000000", 0x6D00),
        ("B0A4040000", 0x6E00),
        ("00A4", 0x6700),
        ("00A4040005A000", 0x6700),  # Lc says 5, one byte follows
    ],
)
def test_status_words_without_a_selected_application(command: str, sw: int) -> None:
    assert _send(_card("visa-cda"), command)[1] == sw


def test_gpo_checks() -> None:
    card = _card("visa-cda")
    _send(card, apdu("00A40400", bytes.fromhex("A0000000031010")))
    assert _send(card, "80A80000028300")[1] == 0x6700  # PDOL wants 9F1A (2 bytes)
    assert _send(card, "80A800000484020826")[1] == 0x6A80  # not tag 83
    assert _send(card, "80A800000583020826")[1] == 0x6700
    body, sw = _send(card, "80A80000048302082600")
    assert sw == 0x9000 and body[0] == 0x77
    assert _send(card, "80A80000048302082600")[1] == 0x6985, "GPO once per transaction"


def test_gpo_format_1() -> None:
    card = _card("visa-sda")
    _send(card, apdu("00A40400", bytes.fromhex("A0000000032010")))
    body, sw = _send(card, "80A8000002830000")
    assert sw == 0x9000
    tag, value = tlv_items(body)[0]
    assert tag == "80" and value[:2] == load_profile("visa-sda").applications[0].aip


def test_domestic_only_card_refuses_foreign_terminal_at_gpo() -> None:
    card = _card("visa-domestic")
    aid = bytes.fromhex("A0000000032010")
    _send(card, apdu("00A40400", aid))
    assert _send(card, "80A80000048302084000")[1] == 0x6985
    _send(card, apdu("00A40400", aid))
    assert _send(card, "80A80000048302082600")[1] == 0x9000
    assert load_profile("visa-domestic").applications[0].data["9F07"] == bytes.fromhex("A980")


def test_qvsdc_refuses_reader_without_qvsdc() -> None:
    card = _card("visa-qvsdc")
    _send(card, apdu("00A40400", bytes.fromhex("A0000000031010")))
    pdol = (
        "00000000"
        + "000000000100"
        + "000000000000"
        + "0826"
        + "0000000000"
        + "0826"
        + "261125"
        + "00"
        + "11223344"
    )
    data = bytes.fromhex("83" + f"{len(pdol) // 2:02X}" + pdol)
    assert _send(card, apdu("80A80000", data))[1] == 0x6985


def test_wallet_signals_consumer_device_cvm() -> None:
    txn = select_and_read(_card("wallet-cdcvm"))
    flat = tlv_flat(txn.gpo)
    assert flat["9F6C"][1] & 0x80, "CTQ: consumer device CVM performed"
    assert flat["9F27"] == b"\x80" and len(flat["9F26"]) == 8
    assert flat["9F6E"] == bytes.fromhex("20700000")


def test_read_record_errors() -> None:
    txn = select_and_read(_card("visa-cda"))
    assert txn.send("00B2010800")[1] == 0x6A86  # P2 without the '100' bits
    assert txn.send("00B2000C00")[1] == 0x6A86
    assert txn.send("00B2090C00")[1] == 0x6A83
    assert txn.send("00B2016C00")[1] == 0x6A82


def test_get_data_counters_and_log() -> None:
    card = _card("visa-cda")
    txn = select_and_read(card)
    atc, sw = txn.send("80CA9F3600")
    assert (atc, sw) == (bytes.fromhex("9F36020012"), 0x9000), "ATC 17 + this GPO"
    assert txn.send("80CA9F1300")[0] == bytes.fromhex("9F13020010")
    assert txn.send("80CA9F1700")[0] == bytes.fromhex("9F170103")
    log_format = tlv_flat(txn.send("80CA9F4F00")[0])["9F4F"]
    assert txn.send("80CA9F5000")[1] == 0x6A88
    generate_ac(txn, 0x80)
    entry, sw = txn.send("00B2015C00")  # SFI 11
    assert sw == 0x9000
    assert len(entry) == dol_length(log_format)
    assert entry[:6] == txn.terminal["9F02"]
    assert txn.send("00B2025C00")[1] == 0x6A83


def test_atc_counts_each_transaction() -> None:
    card = _card("visa-sda")
    for expected in (6, 7, 8):
        txn = select_and_read(card)
        assert int.from_bytes(txn.send("80CA9F3600")[0][3:], "big") == expected


def _cid(body: bytes) -> int:
    tag, value = tlv_items(body)[0]
    return value[0] if tag == "80" else tlv_flat(body)["9F27"][0]


def test_card_risk_decisions() -> None:
    # offline-capable card inside its limits gives the TC it was asked for
    txn = select_and_read(_card("visa-sda"))
    body, sw, _ = generate_ac(txn, 0x40)
    assert sw == 0x9000 and _cid(body) == 0x40
    # foreign terminal: the card wants to go online
    txn = select_and_read(_card("visa-sda"), **{"9F1A": bytes.fromhex("0840")})
    assert _cid(generate_ac(txn, 0x40)[0]) == 0x80
    # always-online card
    txn = select_and_read(_card("visa-online-pin"))
    assert _cid(generate_ac(txn, 0x40)[0]) == 0x80
    # AAC requested: AAC
    txn = select_and_read(_card("visa-sda"))
    assert _cid(generate_ac(txn, 0x00)[0]) == 0x00
    # consecutive offline transactions beyond LCOL (3): online
    card = _card("visa-sda")
    cids = []
    for _ in range(5):
        txn = select_and_read(card)
        cids.append(_cid(generate_ac(txn, 0x40)[0]))
    assert cids == [0x40, 0x40, 0x40, 0x80, 0x80]


def test_generate_ac_sequence_rules() -> None:
    txn = select_and_read(_card("visa-sda"))
    assert txn.send(apdu("80AE8000", b"\x00" * 3))[1] == 0x6700
    assert txn.send(apdu("80AEC000", b"\x00" * 43))[1] == 0x6A86
    body, sw, _ = generate_ac(txn, 0x40)
    assert _cid(body) == 0x40
    assert generate_ac(txn, 0x40, "8D")[1] == 0x6985, "no second GENERATE AC after a TC"
    txn = select_and_read(_card("visa-online-pin"))
    generate_ac(txn, 0x80)
    body, sw, _ = generate_ac(txn, 0x00, "8D", **{"8A": b"05"})
    assert sw == 0x9000 and _cid(body) == 0x00
    assert generate_ac(txn, 0x40, "8D")[1] == 0x6985, "two GENERATE ACs at most"


def test_second_generate_ac_declined_by_host_code() -> None:
    txn = select_and_read(_card("visa-online-pin"))
    generate_ac(txn, 0x80)
    body, sw, _ = generate_ac(txn, 0x40, "8D", **{"8A": b"51"})
    assert sw == 0x9000 and _cid(body) == 0x00


def test_plaintext_pin_try_counter() -> None:
    card = _card("visa-offline-pin")
    txn = select_and_read(card)
    wrong = apdu("00200080", bytes.fromhex("240000FFFFFFFFFF"), le=False)
    right = apdu("00200080", bytes.fromhex("241234FFFFFFFFFF"), le=False)
    assert txn.send(wrong)[1] == 0x63C2
    assert txn.send(wrong)[1] == 0x63C1
    assert txn.send(right)[1] == 0x9000
    assert txn.send("80CA9F1700")[0][-1] == 3
    assert [txn.send(wrong)[1] for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert txn.send(right)[1] == 0x6983
    assert txn.send(apdu("00200080", bytes.fromhex("2412"), le=False))[1] == 0x6983
    body, _, _ = generate_ac(txn, 0x40)
    assert _cid(body) == 0x80, "PIN try limit exceeded: go online"
    iad = tlv_items(body)[0][1][11:]
    assert iad[5] & 0x40, "CVR: PIN try limit exceeded"


def test_verify_format_errors() -> None:
    txn = select_and_read(_card("visa-offline-pin"))
    assert txn.send(apdu("00200080", bytes.fromhex("341234FFFFFFFFFF"), le=False))[1] == 0x6A80
    assert txn.send(apdu("00200080", bytes.fromhex("2412A4FFFFFFFFFF"), le=False))[1] == 0x6A80
    assert txn.send(apdu("00200081", bytes.fromhex("241234FFFFFFFFFF"), le=False))[1] == 0x6A86
    assert txn.send("80CA9F1700")[0][-1] == 3, "malformed blocks cost no try"


def test_pin_blocked_profile() -> None:
    txn = select_and_read(_card("visa-pin-blocked"))
    assert txn.send("80CA9F1700")[0] == bytes.fromhex("9F170100")
    assert txn.send(apdu("00200080", bytes.fromhex("241234FFFFFFFFFF"), le=False))[1] == 0x6983


def test_no_pin_card_refuses_verify_and_has_no_try_counter() -> None:
    txn = select_and_read(_card("visa-signature"))
    assert txn.send(apdu("00200080", bytes.fromhex("241234FFFFFFFFFF"), le=False))[1] == 0x6984
    assert txn.send("80CA9F1700")[1] == 0x6A88


def test_state_survives_power_cycle_but_session_does_not() -> None:
    card = _card("visa-offline-pin")
    txn = select_and_read(card)
    txn.send(apdu("00200080", bytes.fromhex("240000FFFFFFFFFF"), le=False))
    card.power_off()
    card.power_on()
    assert _send(card, "80CA9F1700")[1] == 0x6A88, "nothing selected after reset"
    txn = select_and_read(card)
    assert txn.send("80CA9F1700")[0][-1] == 2


@given(st.binary(min_size=0, max_size=300))
def test_no_apdu_crashes_the_card(raw: bytes) -> None:
    card = _card("visa-cda")
    response = card.transmit(raw)
    assert len(response) >= 2


@given(st.binary(min_size=4, max_size=60))
def test_no_apdu_after_select_crashes_the_card(raw: bytes) -> None:
    card = _card("mc-dda")
    _send(card, apdu("00A40400", bytes.fromhex("A0000000041010")))
    for cla_ins in ("80A8", "80AE", "0020", "0088", "0082", "841E", "80CA", "00B2"):
        response = card.transmit(bytes.fromhex(cla_ins) + raw[2:])
        assert len(response) >= 2


@given(
    st.lists(
        st.tuples(st.sampled_from(["9F02", "9F37", "95", "5F2A", "DF8101"]), st.integers(1, 16)),
        max_size=8,
    )
)
def test_dol_round_trip(entries: list[tuple[str, int]]) -> None:
    dol = b"".join(bytes.fromhex(tag) + bytes([length]) for tag, length in entries)
    assert parse_dol(dol) == entries
    data = bytes(range(dol_length(dol)))
    values = split_dol_data(dol, data)
    offset = 0
    for tag, length in entries:
        if values[tag] == data[offset : offset + length]:
            pass
        offset += length
    assert len(data) == sum(length for _, length in entries)
    first = {}
    offset = 0
    for tag, length in entries:
        first.setdefault(tag, data[offset : offset + length])
        offset += length
    assert values == first
