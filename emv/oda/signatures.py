"""Signature checks of EMV 4.4 Book 2: SDA (5.4), DDA (6.5.2) and CDA (6.6.2)."""

from __future__ import annotations

from collections.abc import Iterator

from emv.oda.certificates import HASH_LENGTH, HASH_SHA1, sha1
from emv.oda.results import DynamicSignatureResult, OdaFailure, PublicKey, SdaResult
from emv.oda.rsa import recover_block
from emv.tlv import TlvError

FORMAT_SSAD = 0x03  # Book 2, Table 7
FORMAT_SDAD = 0x05  # Book 2, Tables 17 and 22
TAG_SDAD = 0x9F4B
TAG_CID = 0x9F27


def _recover(signature: bytes, key: PublicKey, expected_format: int) -> bytes | OdaFailure:
    recovered = recover_block(signature, key, expected_format)
    if isinstance(recovered, bytes) and recovered[2] != HASH_SHA1:
        return OdaFailure.HASH_ALGORITHM
    return recovered


# EMV 4.4 Book 2, 5.4 Verification of Signed Static Application Data (Table 7)
def verify_sda(ssad: bytes, issuer_key: PublicKey, static_data: bytes) -> SdaResult:
    """Check '93' against the static data; the result carries the DAC for '9F45'."""
    recovered = _recover(ssad, issuer_key, FORMAT_SSAD)
    if isinstance(recovered, OdaFailure):
        return SdaResult(recovered)
    n = len(issuer_key.modulus)
    if recovered[n - 21 : n - 1] != sha1(recovered[1 : n - 21], static_data):
        return SdaResult(OdaFailure.HASH_MISMATCH)
    return SdaResult(None, recovered[3:5])


def _open_dynamic(sdad: bytes, icc_key: PublicKey) -> tuple[bytes, bytes, bytes] | OdaFailure:
    """Steps 1-4 of 6.5.2 / 6.6.2, then (recovered, ICC dynamic data, dynamic number)."""
    recovered = _recover(sdad, icc_key, FORMAT_SDAD)
    if isinstance(recovered, OdaFailure):
        return recovered
    length = recovered[3]
    # Book 2, 6.5.2: 0 <= LDD <= NIC - 25
    if length > len(recovered) - 25:
        return OdaFailure.DYNAMIC_DATA_LENGTH
    dynamic = recovered[4 : 4 + length]
    # Book 2, 6.5.2 / Table 19: length byte then a 2-8 byte ICC Dynamic Number
    if not dynamic or not 2 <= dynamic[0] <= 8 or len(dynamic) < 1 + dynamic[0]:
        return OdaFailure.DYNAMIC_NUMBER
    return recovered, dynamic, dynamic[1 : 1 + dynamic[0]]


# EMV 4.4 Book 2, 6.5.2 Dynamic Signature Verification (Table 17)
def verify_dda(sdad: bytes, icc_key: PublicKey, ddol_data: bytes) -> DynamicSignatureResult:
    """Check INTERNAL AUTHENTICATE's '9F4B' over the DDOL data sent."""
    opened = _open_dynamic(sdad, icc_key)
    if isinstance(opened, OdaFailure):
        return DynamicSignatureResult(opened)
    recovered, _, number = opened
    n = len(recovered)
    if recovered[n - 21 : n - 1] != sha1(recovered[1 : n - 21], ddol_data):
        return DynamicSignatureResult(OdaFailure.HASH_MISMATCH)
    return DynamicSignatureResult(None, number)


def top_level_objects(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(tag, raw encoding) of each top-level BER-TLV object, encodings kept byte-exact.

    Raises
    ------
    TlvError
        When the data is not a sequence of well-formed objects.
    """
    position = 0
    while position < len(data):
        start = position
        if data[position] in (0x00, 0xFF):  # Book 3 Annex B padding
            position += 1
            continue
        tag = data[position]
        position += 1
        if tag & 0x1F == 0x1F:
            while True:
                if position >= len(data):
                    raise TlvError("tag runs past the end", start)
                tag = (tag << 8) | data[position]
                position += 1
                if not data[position - 1] & 0x80:
                    break
        if position >= len(data):
            raise TlvError("missing length", start)
        length = data[position]
        position += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 3 or position + size > len(data):
                raise TlvError("bad length", start)
            length = int.from_bytes(data[position : position + size], "big")
            position += size
        if position + length > len(data):
            raise TlvError("value runs past the end", start)
        position += length
        yield tag, data[start:position]


# EMV 4.4 Book 2, 6.6.2 steps 10-11: the Transaction Data Hash Code input
def transaction_data_hash(
    pdol_data: bytes, cdol1_data: bytes, cdol2_data: bytes | None, response_objects: bytes
) -> bytes:
    """SHA-1 over PDOL values, CDOL1 values, CDOL2 values (second GENERATE AC),
    then the response's TLV objects in card order without '9F4B'.

    ``response_objects`` is the value of the '77' template as the card sent it.
    """
    kept = b"".join(raw for tag, raw in top_level_objects(response_objects) if tag != TAG_SDAD)
    return sha1(pdol_data, cdol1_data, cdol2_data or b"", kept)


# EMV 4.4 Book 2, 6.6.2 Dynamic Signature Verification for CDA (Tables 19 and 22)
def verify_cda_signature(
    sdad: bytes,
    icc_key: PublicKey,
    *,
    unpredictable_number: bytes,
    response_cid: int,
    transaction_hash: bytes,
) -> DynamicSignatureResult:
    """Check the '9F4B' of a GENERATE AC response against CID and transaction hash."""
    opened = _open_dynamic(sdad, icc_key)
    if isinstance(opened, OdaFailure):
        return DynamicSignatureResult(opened)
    recovered, dynamic, number = opened
    n = len(recovered)
    # step 5: Table 19 - number length, number, CID, AC (8), hash code (20)
    rest = dynamic[1 + len(number) :]
    if len(rest) < 1 + 8 + HASH_LENGTH:
        return DynamicSignatureResult(OdaFailure.DYNAMIC_DATA_LENGTH)
    cid, cryptogram, hash_code = rest[0], rest[1:9], rest[9 : 9 + HASH_LENGTH]
    if cid != response_cid:  # step 6
        return DynamicSignatureResult(OdaFailure.CID_MISMATCH)
    if recovered[n - 21 : n - 1] != sha1(recovered[1 : n - 21], unpredictable_number):
        return DynamicSignatureResult(OdaFailure.HASH_MISMATCH)  # steps 7-9
    if hash_code != transaction_hash:  # step 12
        return DynamicSignatureResult(OdaFailure.TRANSACTION_DATA_HASH)
    return DynamicSignatureResult(None, number, cid, cryptogram)
