"""What offline data authentication found: precise failure reasons and results.

Every Book 2 check that can fail has its own :class:`OdaFailure` member, so a
trace or a test says *which* check rejected the card. Results never carry the
PAN; keys are public but their repr shows only their size.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OdaFailure(enum.Enum):
    """Why a certificate, signature or ODA method was rejected (EMV 4.4 Book 2)."""

    # data the card must supply (Book 2 Tables 4, 12, 16, 24)
    ICC_DATA_MISSING = "ICC data for the method missing"
    # Book 2, 5.2 / 6.2: CA public key
    CA_KEY_MISSING = "CA public key not held for RID and index"
    CA_KEY_EXPIRED = "CA public key past its expiry date"
    # Book 2, 5.3 / 5.4 / 6.3 / 6.4 / 6.5.2 / 6.6.2 shared steps
    LENGTH_MISMATCH = "length differs from the recovering key's modulus"  # step 1
    TRAILER = "recovered data trailer is not 'BC'"  # step 2
    HEADER = "recovered data header is not '6A'"  # step 3
    FORMAT = "certificate or signed data format wrong"  # step 4
    HASH_ALGORITHM = "hash algorithm indicator not recognised"  # step 6
    HASH_MISMATCH = "hash result differs"  # step 7
    ISSUER_ID_MISMATCH = "issuer identifier does not match the PAN"  # 5.3 step 8
    PAN_MISMATCH = "recovered PAN differs from the application PAN"  # 6.4 step 8
    CERTIFICATE_EXPIRED = "certificate expired"  # step 9
    EXPIRY_INVALID = "certificate expiration date not a valid MMYY"
    REVOKED = "issuer certificate on the revocation list"  # 5.3 step 10
    KEY_ALGORITHM = "public key algorithm indicator not recognised"  # step 11
    REMAINDER_MISSING = "public key remainder required but absent"
    REMAINDER_LENGTH = "public key remainder has the wrong length"
    EXPONENT_LENGTH = "exponent length differs from the certificate"
    KEY_LENGTH = "recovered key length impossible for the certificate"
    # Book 3, 10.3: static data to be authenticated
    SDA_TAG_LIST = "SDA tag list holds tags other than '82'"
    RECORD_NOT_TEMPLATE_70 = "record for ODA (SFI 1-10) not a '70' template"
    # Book 2, 6.5: DDA
    NO_DDOL = "no DDOL in the card and no default DDOL"
    DDOL_WITHOUT_UN = "DDOL does not include the unpredictable number '9F37'"
    INTERNAL_AUTHENTICATE_FAILED = "INTERNAL AUTHENTICATE was not answered with 9000"
    DYNAMIC_DATA_LENGTH = "ICC dynamic data length impossible"
    DYNAMIC_NUMBER = "ICC dynamic number length not 2-8"
    # Book 2, 6.6: CDA
    SDAD_MISSING = "GENERATE AC response without Signed Dynamic Application Data"
    NOT_FORMAT_2 = "GENERATE AC response to a CDA request not in format 2 ('77')"
    CID_MISMATCH = "CID in the signature differs from the response CID"
    TRANSACTION_DATA_HASH = "transaction data hash code differs"
    KEY_NOT_RECOVERED = "ICC public key could not be recovered"
    # Book 2, 7: PIN encipherment
    CHALLENGE = "GET CHALLENGE did not return 8 bytes with 9000"


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An RSA public key as EMV carries it (big-endian modulus and exponent bytes)."""

    modulus: bytes
    exponent: bytes

    def __repr__(self) -> str:
        return f"PublicKey({len(self.modulus) * 8} bits, e={int.from_bytes(self.exponent, 'big')})"


@dataclass(frozen=True, slots=True)
class KeyResult:
    """Outcome of recovering an issuer, ICC or ICC PIN encipherment key."""

    key: PublicKey | None
    failure: OdaFailure | None = None
    serial: bytes = b""  # certificate serial number, once recovered
    expiry: bytes = b""  # MMYY, once recovered

    @property
    def ok(self) -> bool:
        return self.failure is None and self.key is not None

    @staticmethod
    def failed(reason: OdaFailure, serial: bytes = b"", expiry: bytes = b"") -> KeyResult:
        return KeyResult(None, reason, serial, expiry)


@dataclass(frozen=True, slots=True)
class SdaResult:
    """Book 2, 5.4: verification of Signed Static Application Data ('93')."""

    failure: OdaFailure | None
    data_authentication_code: bytes = b""  # 9F45

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True, slots=True, repr=False)
class DynamicSignatureResult:
    """Book 2, 6.5.2 / 6.6.2: a verified (or rejected) Signed Dynamic Application Data."""

    failure: OdaFailure | None
    icc_dynamic_number: bytes = b""  # 9F4C
    cid: int | None = None  # CDA only: CID inside the signature
    cryptogram: bytes = b""  # CDA only: TC or ARQC inside the signature (9F26)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def __repr__(self) -> str:
        reason = self.failure.name if self.failure else "OK"
        return f"DynamicSignatureResult({reason})"
