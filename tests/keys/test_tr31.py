"""TR-31 key blocks (keys.tr31): published examples, psec differential, usage enforcement."""

from __future__ import annotations

import contextlib

import psec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import tr31
from keys.errors import KeyLengthError, KeyUsageError, Tr31Error

# (KBPK, key block, clear key, KCV). Sources, as republished in openemv/tr31
# test/tr31_decrypt_test.c: TR-31:2018 Annex A.7.2.1 (A), A.7.2.2 (B), A.7.3.1 (C with KS
# block), A.7.3.2 (B with KS block), A.7.4 (D, AES-256 KBPK); and blocks produced by a
# Thales payShield 10k HSM (the K0 A/B/C triple and the two D blocks under 41..41).
PUBLISHED = [
    (
        "89E88CF7931444F334BD7547FC3F380C",
        "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
        "F039121BEC83D26B169BDCD5B22AAF8F",
        "CB9DEA",
    ),
    (
        "DD7515F2BFC17F85CE48F3CA25CB21F6",
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "57C409",
    ),
    (
        "B8ED59E0A279A295E9F5ED7944FD06B9",
        "C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C",
        "EDB380DD340BC2620247D445F5B8D678",
        "F4B08D",
    ),
    (
        "1D22BF32387C600AD97F9B97A51311AC",
        "B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627",
        "E8BC63E5479455E26577F715D587FE68",
        "9A4212",
    ),
    (
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "08793E",
    ),
    (
        "EFE0853B256B583D868F251CE99EA1D9",
        "A0072K0TN00N0000F40D5672C6D0EC86F860BA88D44D00F0CA9A8CE8CD2F640287A9A9EB",
        "5DB50B454F8389ADCE573BE50861F2BF",
        "5C9405",
    ),
    (
        "EFE0853B256B583D868F251CE99EA1D9",
        "B0080K0TN00N00001C414014375212C24995E405B5EE052CB92B67F455EA2680F6751088F9F1C228",
        "5DB50B454F8389ADCE573BE50861F2BF",
        "5C9405",
    ),
    (
        "EFE0853B256B583D868F251CE99EA1D9",
        "C0072K0TN00N0000C9B875FF7A5316BF221C09ED52080DE0B45632A4EA9CE87699CB565E",
        "5DB50B454F8389ADCE573BE50861F2BF",
        "5C9405",
    ),
    (
        "41" * 32,
        "D0112B0TN00N000037DB9B046B7B0048785690759580ABC3B9842AB4BB7717B49E92528E575785D8123559376A2553B27BE94F054F4E971C",
        "1FA1F7CEC798D91545DA8AE0C7796BD9",
        "FF5087",
    ),
]


@pytest.mark.parametrize(("kbpk", "block", "key", "kcv"), PUBLISHED)
def test_unwrap_published_blocks(kbpk: str, block: str, key: str, kcv: str | None) -> None:
    header, clear = tr31.unwrap(bytes.fromhex(kbpk), block)
    assert clear.hex().upper() == key
    assert header.version_id == block[0] and header.key_usage == block[5:7]
    if kcv is not None:  # AES: 5-byte CMAC KCV (X9.24-1:2017), published as 3 bytes
        assert tr31.TaggedKey(header, clear).kcv.startswith(kcv)


def test_optional_ks_block_and_header_fields() -> None:
    """TR-31:2018 A.7.3.2: B0 BDK, mode X, key version 12, sensitive, KS = initial KSN."""
    header, _ = tr31.unwrap(bytes.fromhex(PUBLISHED[3][0]), PUBLISHED[3][1])
    assert (header.key_usage, header.algorithm, header.mode_of_use) == ("B0", "T", "X")
    assert (header.key_version, header.exportability) == ("12", "S")
    assert header.optional("KS") == "00604B120F9292800000"
    assert header.optional("KV") is None


def test_aes256_data_key_in_d_block() -> None:
    """payShield 10k D0 block: a 32-byte AES key under an AES-256 KBPK."""
    header, key = tr31.unwrap(
        b"\x41" * 32,
        "D0144D0AN00N0000127862F945C2DED04530FAF7CDBC8B0BA10C7AA79BD5E0C2C5D6AC173BF588E4B1"
        "9ACF1357178D50EA0AB193228E13958304FC6149632DFDCADF3A5B3D57E814",
    )
    assert header.key_usage == "D0" and header.algorithm == "A"
    assert key.hex().upper() == "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC"
    assert tr31.TaggedKey(header, key).kcv.startswith("0A00E3")


def test_wrap_reproduces_a_7_4_with_its_padding() -> None:
    """TR-31:2018 A.7.4: with the example's random pad and masked length 16, wrap gives
    exactly the published D block."""
    pad = bytes.fromhex("1C2965473CE206BB855B01533782")
    block = tr31.wrap(
        bytes.fromhex(PUBLISHED[4][0]),
        tr31.Header("D", "P0", "A", "E", "00", "E"),
        bytes.fromhex(PUBLISHED[4][2]),
        masked_key_length=16,
        random_bytes=lambda n: pad[:n],
    )
    assert block == PUBLISHED[4][1]


def test_tampering_is_detected() -> None:
    kbpk, block = bytes.fromhex(PUBLISHED[1][0]), PUBLISHED[1][1]
    for position in (5, 20, len(block) - 1):  # header, key data, MAC
        flipped = (
            block[:position] + ("0" if block[position] != "0" else "1") + block[position + 1 :]
        )
        with pytest.raises(Tr31Error):
            tr31.unwrap(kbpk, flipped)
    with pytest.raises(Tr31Error):
        tr31.unwrap(bytes(16), block)  # wrong KBPK
    with pytest.raises(Tr31Error):
        tr31.unwrap(kbpk, block[:-2])  # length field mismatch
    with pytest.raises(Tr31Error):
        tr31.unwrap(kbpk, "B0016P0TE00E0000")
    with pytest.raises(Tr31Error):
        tr31.unwrap(kbpk, "Z" + block[1:])
    with pytest.raises(KeyLengthError):
        tr31.unwrap(bytes(8), block)


def test_errors_do_not_echo_keys() -> None:
    kbpk = bytes.fromhex(PUBLISHED[1][0])
    with pytest.raises(Tr31Error) as info:
        tr31.unwrap(kbpk, PUBLISHED[1][1][:-1] + "0")
    assert PUBLISHED[1][0] not in str(info.value).upper()
    assert PUBLISHED[1][2] not in str(info.value).upper()


def test_tagged_key_refuses_other_uses() -> None:
    """A P0 PIN key (mode E) cannot MAC; an M-key cannot encrypt PINs; B1 only derives."""
    pin_key = tr31.unwrap_tagged(bytes.fromhex(PUBLISHED[1][0]), PUBLISHED[1][1])
    assert pin_key.use(tr31.Purpose.PIN_ENCRYPTION) == bytes.fromhex(PUBLISHED[1][2])
    with pytest.raises(KeyUsageError, match="P0"):
        pin_key.use(tr31.Purpose.MAC_GENERATION)
    with pytest.raises(KeyUsageError):
        pin_key.use(tr31.Purpose.PIN_DECRYPTION)  # mode E: encrypt only
    kbpk = bytes(range(16))
    mac_key = tr31.unwrap_tagged(kbpk, tr31.wrap(kbpk, "B0000M3TC00N0000", bytes(range(16, 32))))
    assert mac_key.allows(tr31.Purpose.MAC_VERIFICATION)
    with pytest.raises(KeyUsageError):
        mac_key.use(tr31.Purpose.PIN_ENCRYPTION)
    ipek = tr31.unwrap_tagged(kbpk, tr31.wrap(kbpk, "B0000B1TX00N0000", bytes(range(32, 48))))
    assert ipek.use(tr31.Purpose.KEY_DERIVATION) == bytes(range(32, 48))
    with pytest.raises(KeyUsageError):
        ipek.use(tr31.Purpose.DATA_ENCRYPTION)
    assert bytes(range(32, 48)).hex() not in repr(ipek).lower()
    assert "kcv=" in repr(ipek)


def test_header_round_trip_with_long_optional_block() -> None:
    """Extended-length optional blocks (TR-31:2018 A.5.6) and PB padding survive a round trip."""
    header = tr31.Header("D", "D0", "A", "B", "01", "N", (("KS", "AB" * 10), ("HM", "x" * 300)))
    kbpk = bytes(range(32))
    block = tr31.wrap(kbpk, header, bytes(range(32)))
    parsed, key = tr31.unwrap(kbpk, block)
    assert parsed == header and key == bytes(range(32))


def test_header_validation() -> None:
    with pytest.raises(Tr31Error):
        tr31.Header("B", "P0", "Q")
    with pytest.raises(Tr31Error):
        tr31.Header("B", "P0", "T", "E", "00", "N", (("PB", "00"),))
    with pytest.raises(Tr31Error):
        tr31.wrap(bytes(16), "B0000P0TE00N0000", bytes(24))  # stronger than KBPK


tdes_keys = st.binary(min_size=16, max_size=16).filter(lambda k: k[:8] != k[8:]) | st.binary(
    min_size=24, max_size=24
).filter(lambda k: k[:8] != k[8:16] and k[8:16] != k[16:])


@settings(max_examples=60, deadline=None)
@given(
    kbpk=tdes_keys,
    key=st.binary(min_size=8, max_size=16),
    usage=st.sampled_from(["P0", "B1", "M3", "K0"]),
)
def test_version_b_interoperates_with_psec(kbpk: bytes, key: bytes, usage: str) -> None:
    """Differential: our B blocks unwrap in psec and psec's B blocks unwrap in ours."""
    key = key if len(key) in (8, 16) else key[:8]
    header = f"B0000{usage}TN00N0000"
    ours = tr31.wrap(kbpk, header, key)
    assert psec.tr31.unwrap(kbpk, ours)[1] == key
    theirs = psec.tr31.wrap(kbpk, header, key)
    parsed, clear = tr31.unwrap(kbpk, theirs)
    assert clear == key and parsed.key_usage == usage


@settings(max_examples=60, deadline=None)
@given(
    kbpk=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    masked=st.none() | st.integers(0, 48),
)
def test_version_d_interoperates_with_psec(kbpk: bytes, key: bytes, masked: int | None) -> None:
    """Differential: D blocks both ways, with and without key-length masking."""
    if len(key) > len(kbpk):
        key = key[: len(kbpk)]
    header = "D0000D0AB00N0000"
    ours = tr31.wrap(kbpk, header, key, masked_key_length=masked)
    assert psec.tr31.unwrap(kbpk, ours)[1] == key
    theirs = psec.tr31.wrap(kbpk, header, key, masked_key_len=masked)
    assert tr31.unwrap(kbpk, theirs)[1] == key


@settings(max_examples=40, deadline=None)
@given(version=st.sampled_from("ABC"), kbpk=tdes_keys, key=st.binary(min_size=16, max_size=16))
def test_tdes_versions_round_trip(version: str, kbpk: bytes, key: bytes) -> None:
    if len(key) > len(kbpk):
        key = key[: len(kbpk)]
    header = tr31.Header(version, "P0", "T", "E")
    block = tr31.wrap(kbpk, header, key)
    assert tr31.unwrap(kbpk, block) == (header, key)
    assert psec.tr31.unwrap(kbpk, block)[1] == key


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_unwrap_garbage_raises_only_tr31_errors(text: str) -> None:
    """Property: arbitrary text never escapes as anything but Tr31Error."""
    with contextlib.suppress(Tr31Error):
        tr31.unwrap(bytes(range(16)), text)


header_text = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=2)
headers = st.builds(
    tr31.Header,
    version_id=st.sampled_from("ABCD"),
    key_usage=header_text,
    algorithm=st.sampled_from(sorted(tr31.ALGORITHMS)),
    mode_of_use=st.sampled_from(sorted(tr31.MODES_OF_USE)),
    key_version=header_text,
    exportability=st.sampled_from(sorted(tr31.EXPORTABILITY)),
    optional_blocks=st.lists(
        st.tuples(
            header_text.filter(lambda i: i != "PB"),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300),
        ),
        max_size=3,
    ).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(header=headers, length=st.integers(0, 9999))
def test_header_dump_parse_round_trip(header: tr31.Header, length: int) -> None:
    """Property: parse(dump(h)) == h, the length field survives, the header is block aligned."""
    text = header.dump(length)
    parsed, declared, size = tr31.Header.parse(text)
    assert parsed == header and declared == length and size == len(text)
    assert size % header.block_size == 0
