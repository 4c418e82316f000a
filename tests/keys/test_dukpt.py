"""TDES DUKPT (keys.dukpt) against ANSI X9.24-1:2009 Annex A test data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import dukpt
from keys._primitives import tdes_encrypt
from keys.errors import DukptError, DukptExhaustedError, KeyLengthError
from keys.mac import retail_mac

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
IKSN = bytes.fromhex("FFFF9876543210E00000")
IPEK = bytes.fromhex("6AC292FAA1315B4D858AB3A3D7D5933A")
# ISO 9564 format 0 block for PIN 1234, PAN 4012345678909 used throughout A.4.
CLEAR_PIN_BLOCK = bytes.fromhex("041274EDCBA9876F")

# X9.24-1:2009 A.4.2 "initial sequence": counter -> (transaction key, enciphered PIN block).
# Values as republished in openemv/dukpt test/dukpt_tdes_test.c.
INITIAL_SEQUENCE = [
    (1, "042666B49184CFA368DE9628D0397BC9", "1B9C1845EB993A7A"),
    (2, "C46551CEF9FD24B0AA9AD834130D3BC7", "10A01C8D02C69107"),
    (3, "0DF3D9422ACA56E547676D07AD6BADFA", "18DC07B94797B466"),
    (4, "279C0F6AEED0BE652B2C733E1383AE91", "0BC79509D5645DF7"),
    (5, "5F8DC6D2C845C125508DDC048093B83F", "5BC0AF22AD87B327"),
    (6, "5E415CB0BAF9F03CD0C14B63FB62FF43", "A16DF70AE36158D8"),
    (7, "0C8F780B7C8B49D0AE84A9EB2A6CE660", "27711C16CB257F8E"),
    (8, "27F66D5244FF62E1AA6F6120EDEB4280", "50E55547A5027551"),
    (9, "27E31064FDC565698900E2057F658E7E", "536CF7F678ACFC8D"),
    (10, "6CF2500A22507C7CC776CEADC1E33014", "EDABBA23221833FE"),
    (11, "3E8260BA04B2D620C01482B3819A18B7", "2328981C57B4BDBA"),
    (12, "B716E1E11CF53D80726CAEE75C3A624F", "038D03CC926CF286"),
    (13, "E072EDF95340535FB6C581C58FBF2533", "6C8AA97088B62C68"),
    (14, "A80046087F5B8F245AAD95E18429084F", "F17C9E1D72CD4950"),
    (15, "93DD5B956C4878472E453AAEFD32A5AA", "B170F6E7F7F2F64A"),
    (16, "59598DCBD9BD94C094165CE453585F57", "D5D9638559EF53D6"),
    (17, "2B5F01F4F0CC05EA639D523231BF1BA2", "D544F8CDD292C863"),
    (18, "9CF640F279C2AEE615F725EEEAC2CBAF", "7A21BD10F36DC41D"),
    (19, "C3DF489FDF1153B4F03DE97C27DC4C2F", "78649BD17D0DFA60"),
    (20, "658488507721B3F14737FA93F923CBD2", "7E7E16EA0C31AD56"),
    (21, "E161D1956A61F6D2F37AFD7F9CC3699A", "72105C22EBC791E6"),
]

# X9.24-1:2009 A.4.3 "rollover sequence" (counter values around the ten-ones limit),
# as republished in openemv/dukpt test/dukpt_tdes_test.c.
ROLLOVER_SEQUENCE = [
    (0x0FF800, "F9CDFEBF4F5B1D9EB3EC12454527E176", "33365F5CC6F23C35"),
    (0x0FF801, "5BEE92627E97825C911BF619DF72CA3B", "3A86BF003F835C9D"),
    (0x0FF802, "64CA2F8AB93F61B01620B00BF77C7301", "3DB977D05C36DF3F"),
    (0x0FF804, "35A168695B3BA83307E871C42021DD37", "BA83243305712099"),
    (0x0FF808, "12C380FCB72ED3C26FC6079AF63F4787", "B0DA04AC90A36D85"),
    (0x0FF810, "D8007C833A1E3C49C6889B97A68C54FF", "2CF02BD9C309EEDA"),
    (0x0FF820, "A9C9FF9B735FDD49591F296B0BF0FD70", "9D1E2F77AEEE81C6"),
    (0x0FF840, "0E3E221062CB5E03A384602783A004FA", "40870B0F8BA2011C"),
    (0x0FF880, "CA8225C587124DFBB87F279C0BE29727", "22E340D6ABB40981"),
    (0x0FF900, "906AAC1751D4971A144D52C76C6E1F97", "1A4C10AFBA03A430"),
    (0x0FFA00, "2B9E2CE7C2750337E10B54D2989EA6AF", "849763B43E5F9CFF"),
    (0x0FFC00, "F9430DF975082491C77BE4EF4FDB91EE", "DEFC6F09F8927B71"),
    (0x100000, "AA4D58DB653EC74A48C75F2F047DD2B5", "73EC88AD0AC5830E"),
]

# X9.24-1:2009 A.4 MAC and data examples for the first five KSNs: retail MAC (ISO 16609
# C.4, zero padding) and TDES-CBC data encryption of ASCII "4012345678909D987".
# Values as republished in moov-io/dukpt pkg/des/des_test.go.
MAC_DATA = b"4012345678909D987"
MAC_AND_DATA = [
    (
        1,
        "9CCC78173FC4FB64",
        "20364223C1FF00FA",
        "FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F",
        "1FCC89AF66222F27B903898BB2BC8589CDBFDE5EC6AFCC25",
    ),
    (
        2,
        "F608A9BCA6FFC311",
        "D1FCA6BEF05D24D2",
        "A2B4E70F846E63D68775B7215EB4563DFD3037244C61CC13",
        "5B692A6B1FDD5E25B0DEFAFDE1672E402F8011360CFF3508",
    ),
    (
        3,
        "20B59A4FEAC937E3",
        "BAD4CC9CC2AE326C",
        "BD751E65F10E75B6C1D5B1D283496A36C2DE21D993C387A7",
        "345992D4163E4926C927BFD8ABD5D76F087A9CE81D5A27B8",
    ),
    (
        4,
        "C7BFA6CC44161828",
        "1EB08AEECE6FF0C2",
        "1118F50947441BBDA3C8C70220021A12EC31CC473F7215F4",
        "418C7413576C0D1819E785D3807AF32334231FDEC23414DB",
    ),
    (
        5,
        "0202B96339022058",
        "5CBE3E81D1D2A0FB",
        "9FD7BD1EC28845ACA93367A9DA9317BD555C6B33AE22D365",
        "7D4C109E49E83355A556AE949EED359F4404E7A2F0167C00",
    ),
]


def ksn(counter: int) -> bytes:
    return dukpt.ksn_with_counter(IKSN, counter)


def test_ipek_matches_annex_a() -> None:
    """X9.24-1:2009 A.4: BDK 0123...3210, KSN FFFF9876543210E00000 -> IPEK 6AC292FA..."""
    assert dukpt.derive_ipek(BDK, IKSN) == IPEK
    # The counter is masked off: any KSN of the device gives the same IPEK.
    assert dukpt.derive_ipek(BDK, ksn(0x1234)) == IPEK


@pytest.mark.parametrize(("counter", "key", "pin_block"), INITIAL_SEQUENCE + ROLLOVER_SEQUENCE)
def test_host_side_transaction_keys_and_pin_blocks(counter: int, key: str, pin_block: str) -> None:
    """X9.24-1:2009 A.4.2 and A.4.3: transaction key and PIN-variant enciphered block."""
    derived = dukpt.derive_transaction_key(IPEK, ksn(counter))
    assert derived.hex().upper() == key
    assert tdes_encrypt(dukpt.pin_variant(derived), CLEAR_PIN_BLOCK).hex().upper() == pin_block


@pytest.mark.parametrize(("counter", "mac_req", "mac_resp", "data_req", "data_resp"), MAC_AND_DATA)
def test_mac_and_data_variants(
    counter: int, mac_req: str, mac_resp: str, data_req: str, data_resp: str
) -> None:
    """X9.24-1:2009 A.4: MAC request/response and data request/response examples."""
    key = dukpt.derive_transaction_key(IPEK, ksn(counter))
    assert retail_mac(dukpt.mac_request_variant(key), MAC_DATA).hex().upper() == mac_req
    assert retail_mac(dukpt.mac_response_variant(key), MAC_DATA).hex().upper() == mac_resp
    assert dukpt.encrypt_data(dukpt.data_request_variant(key), MAC_DATA).hex().upper() == data_req
    assert dukpt.encrypt_data(dukpt.data_response_variant(key), MAC_DATA).hex().upper() == data_resp
    clear = dukpt.decrypt_data(dukpt.data_request_variant(key), bytes.fromhex(data_req))
    assert clear == MAC_DATA + bytes(7)


def test_variants_differ_pairwise() -> None:
    key = dukpt.derive_transaction_key(IPEK, ksn(1))
    variants = {
        f(key)
        for f in (
            dukpt.pin_variant,
            dukpt.mac_request_variant,
            dukpt.mac_response_variant,
            dukpt.data_request_variant,
            dukpt.data_response_variant,
        )
    }
    assert len(variants) == 5 and key not in variants


def test_originator_walks_the_initial_sequence() -> None:
    """The terminal side produces the A.4.2 keys in order from the IPEK alone."""
    state = dukpt.DukptOriginator.load_initial_key(IPEK, IKSN)
    for counter, key, _ in INITIAL_SEQUENCE:
        assert state.ksn == ksn(counter)
        assert state.current_key().hex().upper() == key
        state.advance()


def test_originator_rollover_skips_counters_with_eleven_ones() -> None:
    """A.4.3: after 0FFC00 comes 100000 (counters with > 10 one-bits are skipped)."""
    state = dukpt.DukptOriginator.at_counter(IPEK, ksn(0x0FF800))
    for counter, key, _ in ROLLOVER_SEQUENCE:
        assert state.ksn == ksn(counter)
        assert state.current_key().hex().upper() == key
        state.advance()


def test_originator_holds_at_most_21_keys_and_erases_used_ones() -> None:
    state = dukpt.DukptOriginator.load_initial_key(IPEK, IKSN)
    used = []
    for _ in range(300):
        used.append(state.current_key())
        state.advance()
        live = [r for r in state.registers if r is not None]
        assert len(live) <= 21
        assert not set(used) & set(live)


def test_exhaustion_is_a_clear_error() -> None:
    last = 0x1FF800  # highest counter with at most ten 1-bits
    assert dukpt.next_counter(last) is None
    state = dukpt.DukptOriginator.at_counter(IPEK, ksn(last))
    assert state.current_key() == dukpt.derive_transaction_key(IPEK, ksn(last))
    state.advance()
    assert state.exhausted
    with pytest.raises(DukptExhaustedError):
        state.current_key()
    with pytest.raises(DukptExhaustedError):
        state.advance()
    restored = dukpt.DukptOriginator.from_bytes(state.to_bytes())
    assert restored.exhausted


def test_bad_inputs_raise_without_key_bytes() -> None:
    with pytest.raises(KeyLengthError) as info:
        dukpt.derive_ipek(BDK[:15], IKSN)
    assert BDK[:15].hex() not in str(info.value).lower()
    with pytest.raises(KeyLengthError):
        dukpt.derive_transaction_key(IPEK, IKSN[:9])
    with pytest.raises(DukptError):
        dukpt.DukptOriginator.load_initial_key(IPEK, ksn(5))
    with pytest.raises(DukptError):
        dukpt.DukptOriginator.at_counter(IPEK, ksn(0x7FF))  # eleven ones
    with pytest.raises(DukptError):
        dukpt.DukptOriginator.from_bytes(b"\x09" + bytes(13))


def test_repr_shows_no_key() -> None:
    state = dukpt.DukptOriginator.load_initial_key(IPEK, IKSN)
    text = repr(state)
    for register in state.registers:
        assert register is not None
        assert register.hex() not in text.lower()
        assert register.hex().upper() not in text


@settings(max_examples=40, deadline=None)
@given(start=st.integers(min_value=1, max_value=dukpt.COUNTER_MASK), steps=st.integers(0, 40))
def test_originator_agrees_with_host_and_with_at_counter(start: int, steps: int) -> None:
    """Property: stepping the originator equals rebuilding it at each counter, and its
    key equals the host-side derivation (the differential X9.24 invariant)."""
    counter: int | None = start
    while counter is not None and not dukpt.counter_is_valid(counter):
        counter = dukpt.next_counter(counter)
    if counter is None:
        return
    state = dukpt.DukptOriginator.at_counter(IPEK, ksn(counter))
    for _ in range(steps):
        if state.exhausted:
            break
        assert state.current_key() == dukpt.derive_transaction_key(IPEK, state.ksn)
        assert state.to_bytes() == dukpt.DukptOriginator.at_counter(IPEK, state.ksn).to_bytes()
        expected_next = dukpt.next_counter(state.counter)
        state.advance()
        assert state.counter == (expected_next or 0)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=dukpt.COUNTER_MASK))
def test_state_serialization_round_trip(counter: int) -> None:
    if not dukpt.counter_is_valid(counter):
        return
    state = dukpt.DukptOriginator.at_counter(IPEK, ksn(counter))
    again = dukpt.DukptOriginator.from_bytes(state.to_bytes())
    assert again == state
    assert again.advanced() == state.advanced()


def test_advanced_leaves_original_untouched() -> None:
    state = dukpt.DukptOriginator.load_initial_key(IPEK, IKSN)
    before = state.to_bytes()
    following = state.advanced()
    assert state.to_bytes() == before
    assert following.counter == 2


@pytest.mark.slow
def test_whole_counter_space_matches_host() -> None:
    """All 1 048 575 transactions: originator keys equal host keys (sampled) and the
    count equals the number of 21-bit values with 1..10 one-bits."""
    state = dukpt.DukptOriginator.load_initial_key(IPEK, IKSN)
    count = 0
    while not state.exhausted:
        if count % 4099 == 0:
            assert state.current_key() == dukpt.derive_transaction_key(IPEK, state.ksn)
        state.advance()
        count += 1
    assert count == sum(1 for c in range(1, 1 << 21) if c.bit_count() <= 10)
