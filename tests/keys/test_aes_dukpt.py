"""AES DUKPT (keys.aes_dukpt) against ANSI X9.24-3:2017 Annex B and supplement vectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import aes_dukpt
from keys.errors import DukptError, DukptExhaustedError, KeyLengthError
from keys.mac import aes_cmac

BDK128 = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
BDK256 = BDK128 * 2
IKID = bytes.fromhex("1234567890123456")
IK128 = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
IK256 = bytes.fromhex("CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F")


def ksn(counter: int) -> bytes:
    return aes_dukpt.make_ksn(IKID, counter)


# X9.24-3:2017 supplement, AES-128 BDK: intermediate derivation keys per counter
# (openemv/dukpt test/dukpt_aes128_test.c, "page 2", "page 5", "page 6").
DERIVATION_KEYS = [
    (0x00000001, "4F21B565BAD9835E112B6465635EAE44"),
    (0x00000002, "2F34D68DE10F68D38091A73B9E7C437C"),
    (0x00000003, "031504E530365CF81264238540518318"),
    (0x00000004, "0EEFC7ADA628BA68878DA9165A8A1887"),
    (0x00000005, "C2A7AC328A5DA2D6002D62465BFC028B"),
    (0x00000006, "D30F7D9351DA58448A2F5E92B4EE3B7D"),
    (0x00000007, "A8253CEED9AC042C54F75D35C8352278"),
    (0x00000008, "718EE6CF0B27E53D5F7AF99C4D8146A2"),
    (0x0001FFFE, "E21E8C8D347F8561A2BE752DAA85A111"),
    (0x0001FFFF, "1FE368988089CDD76DA18A3458E113BA"),  # 17 ones: host-only
    (0x00020000, "F7AE9025468A25D37B7249CFFED224C8"),
    (0x00020001, "692C8EA4013645135B36497131DF9D2C"),
    (0xFFFE2000, "48E585B694EB0B18D5C35443E163C0BA"),
    (0xFFFE4000, "396C2C7CA1EA701C03B86B7D41F0C562"),
    (0xFFFE8000, "0387625F189B58AE03EF0E8CCA41105E"),
    (0xFFFF0000, "F6BA59389BD14A9855BE9727E7C52E3C"),
]

# X9.24-3:2017 Annex B.1 / supplement working keys, AES-128 BDK -> AES-128 keys
# (as republished in the paysec-dukpt test suite): counter -> (PIN, MAC gen, data enc).
WORKING_KEYS_128 = [
    (
        0x00000001,
        "AF8CB133A78F8DC2D1359F18527593FB",
        "A2DC23DE6FDE0824A2BC321E08E4B8B7",
        "A35C412EFD41FDB98B69797C02DCD08F",
    ),
    (
        0x00000002,
        "D30BDC73EC9714B000BEC66BDB7B6D09",
        "484C3B06E8562704528CD5B46FB12FB6",
        "D639514AA33AC43AD9229E433D6D4E5B",
    ),
    (
        0x00000003,
        "7D69F01F3B45449F62C7816ECE723268",
        "A5DF7D9D800CA769766F0C77CA4E6E6C",
        "EF17F6AB45B4820C93A3DCB21BC491AD",
    ),
    (
        0x00000004,
        "91A0588318EC2673214271F70137896E",
        "E6E4679647D8A9057C1FC15537CB4C4E",
        "B3BD44C08BB6BA27C3BB4711D7D70387",
    ),
    (
        0x00000005,
        "35A43BC9EFEB09C756204B57E3FB7D4D",
        "0588185FE1FF8C7E22FAD78C1C61F065",
        "CA02DF6F30B39E14BD0B4A30E460920F",
    ),
    (
        0x0001FFFE,
        "DDF7E08A84B5478C498D007C743BF762",
        "6D7623AD652734B8FAE1B6E093EACE3D",
        "8E4E5D5E0F01C54F01F4ACA1C8F8EDCE",
    ),
    (
        0x00020000,
        "AB828BE7B58C7EC5D5ED0D5D320A0C9D",
        "0B59D3D7D93028D97135FB895CACE24E",
        "13361208975755318FE7AE28C9616014",
    ),
]


def test_initial_keys() -> None:
    """X9.24-3:2017 B.1 (AES-128 BDK) and supplement (AES-256 BDK), IKID 1234567890123456."""
    assert aes_dukpt.derive_initial_key(BDK128, IKID) == IK128
    assert aes_dukpt.derive_initial_key(BDK256, IKID) == IK256


@pytest.mark.parametrize(("counter", "expected"), DERIVATION_KEYS)
def test_intermediate_derivation_keys(counter: int, expected: str) -> None:
    assert aes_dukpt.derive_transaction_key(IK128, ksn(counter)).hex().upper() == expected


@pytest.mark.parametrize(("counter", "pin", "mac", "data"), WORKING_KEYS_128)
def test_working_keys_aes128(counter: int, pin: str, mac: str, data: str) -> None:
    k = ksn(counter)
    assert aes_dukpt.derive_working_key(IK128, k, "pin_encryption").hex().upper() == pin
    assert aes_dukpt.derive_working_key(IK128, k, "mac_generation").hex().upper() == mac
    assert aes_dukpt.derive_working_key(IK128, k, "data_encryption").hex().upper() == data


def test_all_usages_counter_1() -> None:
    """X9.24-3:2017 B.1, counter 1, every usage (paysec-dukpt republication)."""
    expected = {
        "mac_verification": "DBB463945B286C07CD3AD82EE96FD9C9",
        "mac_both_ways": "85675439D18D7F1158BD8E3EAA3D502B",
        "data_decryption": "16292C6EA8F64C5420A0584BFBC577BE",
        "data_both_ways": "A308E080DD15A1B741F1721BF67DE11C",
        "key_encryption": "36A724B7BEFA5A25F5E7B5782A4554A2",
        "key_derivation": "30E54D3C69B22501A7FC43969D81D5C0",
    }
    for usage, value in expected.items():
        assert aes_dukpt.derive_working_key(IK128, ksn(1), usage).hex().upper() == value


def test_aes256_working_keys() -> None:
    """X9.24-3:2017 supplement, AES-256 BDK, counter 1: AES-256 and AES-128 working keys."""
    k = ksn(1)
    assert aes_dukpt.derive_working_key(IK256, k, "pin_encryption", "AES256").hex().upper() == (
        "8C1AB7BEE973829E30242E0BBBDD4946D540C98FC1B5BDCF94790001A23FD502"
    )
    assert aes_dukpt.derive_working_key(IK256, k, "mac_generation", "AES256").hex().upper() == (
        "61DABDF4B340CF461EE860B1D1AB55357142BD2D6977306859CF49AEFE8F1549"
    )
    assert aes_dukpt.derive_working_key(IK256, k, "pin_encryption").hex().upper() == (
        "09C9C432966811D6B2C3336BAC1B1202"
    )
    assert aes_dukpt.derive_working_key(IK256, k, "data_encryption").hex().upper() == (
        "616D59AE91F8CC7016F89FDA29605FA4"
    )


def test_cmac_with_working_keys() -> None:
    """AES-CMAC of "4012345678909D987" under the counter-1 MAC keys, as in moov-io/dukpt
    pkg/aes/aes_test.go (B.1 test data)."""
    data = b"4012345678909D987"
    gen = aes_dukpt.derive_working_key(IK128, ksn(1), "mac_generation")
    ver = aes_dukpt.derive_working_key(IK128, ksn(1), "mac_verification")
    assert aes_cmac(gen, data).hex().upper() == "A2EB5C1C35809E58404E873C3C411E31"
    assert aes_cmac(ver, data).hex().upper() == "DD4E1895FD9BF53D8DAF25568ABF551D"


def test_originator_walks_first_keys() -> None:
    state = aes_dukpt.AesDukptOriginator.load_initial_key(IK128, IKID)
    for counter, expected in DERIVATION_KEYS[:8]:
        assert state.counter == counter
        assert state.current_key().hex().upper() == expected
        state.advance()
    assert state.counter == 9


def test_originator_skips_seventeen_ones_and_exhausts() -> None:
    """0x1FFFE (16 ones) is followed by 0x20000; 0xFFFF0000 is the last counter."""
    state = aes_dukpt.AesDukptOriginator.at_counter(IK128, ksn(0x0001FFFE))
    state.advance()
    assert state.counter == 0x00020000
    assert state.current_key().hex().upper() == "F7AE9025468A25D37B7249CFFED224C8"
    last = aes_dukpt.AesDukptOriginator.at_counter(IK128, ksn(0xFFFE8000))
    last.advance()
    assert last.counter == 0xFFFF0000
    assert last.current_key().hex().upper() == "F6BA59389BD14A9855BE9727E7C52E3C"
    last.advance()
    assert last.exhausted
    with pytest.raises(DukptExhaustedError):
        last.working_key("pin_encryption")


def test_originator_working_key_equals_host() -> None:
    state = aes_dukpt.AesDukptOriginator.load_initial_key(IK256, IKID)
    for _ in range(5):
        for usage in ("pin_encryption", "mac_generation"):
            assert state.working_key(usage) == aes_dukpt.derive_working_key(IK256, state.ksn, usage)
        state.advance()


@settings(max_examples=30, deadline=None)
@given(start=st.integers(min_value=1, max_value=(1 << 32) - 1), steps=st.integers(0, 20))
def test_originator_agrees_with_at_counter(start: int, steps: int) -> None:
    """Property: stepping equals rebuilding at each counter; keys equal host derivation."""
    counter: int | None = start
    while counter is not None and not aes_dukpt.counter_is_valid(counter):
        counter = aes_dukpt.next_counter(counter)
    if counter is None:
        return
    state = aes_dukpt.AesDukptOriginator.at_counter(IK128, ksn(counter))
    for _ in range(steps):
        if state.exhausted:
            break
        assert state.current_key() == aes_dukpt.derive_transaction_key(IK128, state.ksn)
        rebuilt = aes_dukpt.AesDukptOriginator.at_counter(IK128, state.ksn)
        assert rebuilt.to_bytes() == state.to_bytes()
        assert aes_dukpt.AesDukptOriginator.from_bytes(state.to_bytes()) == state
        state.advance()


def test_errors() -> None:
    with pytest.raises(KeyLengthError):
        aes_dukpt.derive_initial_key(BDK128[:15], IKID)
    with pytest.raises(KeyLengthError):
        aes_dukpt.derive_initial_key(BDK128, IKID[:7])
    with pytest.raises(DukptError):
        aes_dukpt.derive_working_key(IK128, ksn(1), "pin_sniffing")
    with pytest.raises(DukptError):
        aes_dukpt.derive_working_key(IK128, ksn(1), "pin_encryption", "AES256")  # too strong
    with pytest.raises(DukptError):
        aes_dukpt.derive_working_key(IK128, ksn(1), "pin_encryption", "RC4")
    with pytest.raises(DukptError):
        aes_dukpt.AesDukptOriginator.from_bytes(b"\x02")
    state = aes_dukpt.AesDukptOriginator.load_initial_key(IK128, IKID)
    assert IK128.hex() not in repr(state).lower()
    assert state.current_key().hex() not in repr(state).lower()
