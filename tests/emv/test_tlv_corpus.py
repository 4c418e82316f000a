"""Real card responses decoded by emv.tlv and by pyemv.tlv (an independent oracle).

The corpus is tests/emv/data/card_responses.txt: data fields of SELECT, GPO,
READ RECORD and GET DATA responses recorded from cards, taken from public traces
in devnied/EMV-NFC-Paycard-Enrollment (library/src/test/resources/data/*) and
MichaelsPlayground/TalkToYourCreditCardPart7 (logfile.md); commits in the file.
"""

from __future__ import annotations

from typing import Any

import pyemv.tlv
import pytest

from bench.bench_tlv import load_corpus
from emv import tags, tlv
from emv.tlv import Tlv

CORPUS = load_corpus()


def as_pyemv(items: list[Tlv] | tuple[Tlv, ...]) -> dict[str, Any]:
    """Our tree in pyemv's shape: hex tag -> bytes or nested dict (last one wins)."""
    out: dict[str, Any] = {}
    for item in items:
        key = tlv.tag_bytes(item.tag).hex().upper()
        out[key] = as_pyemv(item.children) if item.constructed else item.value
    return out


def test_corpus_is_substantial() -> None:
    assert len(CORPUS) >= 20
    assert sum(len(data) for _, data in CORPUS) > 1000


@pytest.mark.parametrize(("label", "data"), CORPUS, ids=[label for label, _ in CORPUS])
def test_matches_pyemv(label: str, data: bytes) -> None:
    ours = tlv.decode(data)
    assert as_pyemv(ours) == pyemv.tlv.decode(data)
    assert tlv.encode(ours) == data  # canonical encodings survive a round trip
    assert tlv.decode(data, strict=False) == ours


def _pad(items: list[Tlv] | tuple[Tlv, ...]) -> bytes:
    """Re-encode with 00 padding before, between and after objects, templates too."""
    out = bytearray(b"\x00")
    for item in items:
        value = _pad(item.children) if item.children else item.value
        out += tlv.tag_bytes(item.tag) + tlv.encode_length(len(value)) + value + b"\x00\x00"
    return bytes(out)


def _shape(items: list[Tlv] | tuple[Tlv, ...]) -> list[Any]:
    """Tags and primitive values only (template values include their padding)."""
    return [(i.tag, _shape(i.children) if i.children else i.value) for i in items]


@pytest.mark.parametrize(("label", "data"), CORPUS, ids=[label for label, _ in CORPUS])
def test_zero_padding_pyemv_rejects(label: str, data: bytes) -> None:
    """EMV 4.4 Book 3 Annex B1 allows 00 padding between objects; pyemv does not."""
    padded = _pad(tlv.decode(data))
    assert _shape(tlv.decode(padded)) == _shape(tlv.decode(data))
    try:
        theirs = pyemv.tlv.decode(padded)
    except pyemv.tlv.DecodeError:
        return
    assert theirs != pyemv.tlv.decode(data)


def test_corpus_renders_with_names() -> None:
    """Every tag in the corpus is in the data dictionary or is issuer proprietary."""
    unknown = {
        item.tag
        for _, data in CORPUS
        for item in tlv.walk(tlv.decode(data))
        if tags.lookup(item.tag) is None
    }
    # DF60-DF65, DF3E, 9F52, 9F28, 9F58-9F59: proprietary or scheme tags.
    assert unknown <= {0xDF60, 0xDF61, 0xDF62, 0xDF64, 0xDF65, 0xDF3E, 0x9F52, 0x9F28,
                       0x9F58, 0x9F59, 0x9F5A}  # fmt: skip
