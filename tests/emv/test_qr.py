"""EMVCo QR payloads, merchant- and consumer-presented, and `posterm qr decode`."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emv.qr import QrError, crc16_ccitt_false, decode_cpm, decode_mpm, decode_qr
from emv.tlv import Tlv, encode
from terminal.cli import main

# EMV QRCPS Merchant-Presented Mode v1.1, Appendix A example payload (CRC A13A);
# non-ASCII characters count one each in lengths, the CRC runs over UTF-8 bytes.
EMVCO_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344"
    "9988770708123456786304A13A"
)
# phannaly/emv-qr-code README.md, "Merchant Presented Mode decode" (CRC 1FF2).
PHANNALY_EXAMPLE = (
    "00020101021252044131153137210116372101160123456789ABCDE6016Banteay Meanchey"
    "5913Kuntheas Shop5802KH540510.005303840621201081234567863041FF2"
)


def test_crc_check_value() -> None:
    """CRC-16/CCITT-FALSE check value for "123456789" is 0x29B1 (CRC catalogue)."""
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_emvco_example_decodes_with_templates() -> None:
    payload = decode_mpm(EMVCO_EXAMPLE)
    assert payload.crc_ok is True
    assert payload.fields["29"] == {"00": "D15600000000", "05": "A93FO3230Q"}
    assert payload.fields["64"] == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert payload.fields["62"] == {"03": "1234", "06": "***", "07": "A6008667", "09": "ME"}
    assert payload.fields["54"] == "23.72"
    assert payload.fields["59"] == "BEST TRANSPORT"


def test_second_public_example() -> None:
    payload = decode_mpm(PHANNALY_EXAMPLE)
    assert payload.fields["15"] == "37210116372101160123456789ABCDE"
    assert payload.fields["62"] == {"01": "12345678"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (EMVCO_EXAMPLE[:-4] + "A13B", "63"),  # wrong CRC
        ("010212" + EMVCO_EXAMPLE[6:], "00"),  # indicator not first
        (EMVCO_EXAMPLE[:-8], "63"),  # CRC missing
        ("000201" + "5999ABC", "59"),  # length overruns
    ],
)
def test_malformed_payload_names_field(payload: str, field: str) -> None:
    with pytest.raises(QrError) as caught:
        decode_mpm(payload)
    assert caught.value.field == field


def test_bad_length_digits_name_offset() -> None:
    with pytest.raises(QrError) as caught:
        decode_mpm("00020101X212")
    assert caught.value.offset == 8


def _mpm(objects: list[tuple[str, str]]) -> str:
    body = "000201" + "".join(f"{i}{len(v):02d}{v}" for i, v in objects) + "6304"
    return body + f"{crc16_ccitt_false(body.encode()):04X}"


plain_ids = st.sampled_from(["01", "52", "53", "54", "58", "59", "60", "61", "02", "15"])
values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("éü北京"),
    min_size=1,
    max_size=20,
)


@given(st.dictionaries(plain_ids, values, max_size=6))
def test_generated_payloads_round_trip(objects: dict[str, str]) -> None:
    payload = decode_mpm(_mpm(list(objects.items())))
    expected = {"00": "01", **objects}
    assert {k: v for k, v in payload.fields.items() if k != "63"} == expected


@settings(max_examples=2000)
@given(st.text(max_size=80))
def test_random_text_raises_only_qr_error(text: str) -> None:
    with contextlib.suppress(QrError):
        decode_qr(text)


def test_consumer_presented_payload() -> None:
    """A CPM payload built per EMV QRCPS-CPM: 85 CPV01 then an application template."""
    tree = [
        Tlv(0x85, b"CPV01"),
        Tlv(0x61, b"", (Tlv(0x4F, bytes.fromhex("A0000000031010")), Tlv(0x50, b"VISA"))),
    ]
    payload = decode_cpm(base64.b64encode(encode(tree)).decode())
    assert payload.mode == "cpm"
    assert payload.crc_ok is True  # no CRC in CPM: base64 and BER-TLV decoded cleanly
    assert payload.fields["61"] == {"4F": "A0000000031010", "50": "56495341"}


def test_consumer_presented_card_data_is_masked() -> None:
    """A CPM code carries the PAN (5A) and track 2 (57): shown first 6 / last 4 only."""
    pan = bytes.fromhex("4761739001010010")
    track2 = bytes.fromhex("4761739001010010D30122011234567890")
    tree = [
        Tlv(0x85, b"CPV01"),
        Tlv(0x61, b"", (Tlv(0x4F, bytes.fromhex("A0000000031010")), Tlv(0x5A, pan))),
        Tlv(0x62, b"", (Tlv(0x57, track2),)),
    ]
    payload = decode_cpm(base64.b64encode(encode(tree)).decode())
    assert payload.fields["61"]["5A"] == "476173******0010"  # type: ignore[index]
    assert payload.fields["62"]["57"] == "476173******0010"  # type: ignore[index]
    assert "4761739001010010" not in repr(payload)


def test_cpm_without_indicator_is_refused() -> None:
    with pytest.raises(QrError):
        decode_cpm(base64.b64encode(encode([Tlv(0x61, b"\x4f\x01\xa0")])).decode())


def test_cli_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", "decode", EMVCO_EXAMPLE]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["mode"] == "mpm"
    assert document["crc_ok"] is True
    assert document["fields"]["62"]["03"] == "1234"


def test_cli_bad_crc_exits_2_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", "decode", EMVCO_EXAMPLE[:-1] + "0"]) == 2
    err = capsys.readouterr().err
    assert "field 63" in err
    assert "Traceback" not in err
