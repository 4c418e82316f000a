"""Bit fields of EMV data elements as ``enum.IntFlag`` classes.

Each class maps the whole field onto one integer, big-endian, so byte 1 bit 8 of a
5-byte TVR is ``1 << 39``. That keeps the kernel's checks one ``&`` away
(``TVR.EXPIRED_APPLICATION in tvr``) and makes a log line read
``TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED|NEW_CARD``. RFU bits survive a
``from_bytes``/``to_bytes`` round trip (IntFlag's KEEP boundary), so nothing a card
or host sent is silently dropped.

Bit positions: EMV 4.4 Book 3 Annex C (AIP C1, AUC C2, CV rules C3, TVR C5,
TSI C6), EMV 4.4 Book 4 Annex A (terminal capabilities A2, additional terminal
capabilities A3, CVM results A4), EMV Contactless Book A 5.7 (TTQ) and Book C-3
Annex A.2 (CTQ).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self, TypeVar

from emv.errors import EmvError


class FieldLengthError(EmvError):
    """A bit field was given the wrong number of bytes."""

    def __init__(self, field: str, expected: int | str, got: int) -> None:
        super().__init__(f"{field} is {expected} bytes, got {got}")
        self.field = field
        self.expected = expected
        self.got = got


def _bit(byte: int, bit: int, size: int) -> int:
    """Value of ``byte`` (1-based, as the books count) ``bit`` (b8..b1) in a field."""
    return 1 << ((size - byte) * 8 + bit - 1)


_SIZES: dict[type, int] = {}
_F = TypeVar("_F", bound="ByteFlag")


def _sized(size: int) -> Callable[[type[_F]], type[_F]]:
    def register(cls: type[_F]) -> type[_F]:
        _SIZES[cls] = size
        return cls

    return register


class ByteFlag(enum.IntFlag):
    """An IntFlag stored as a fixed number of big-endian bytes."""

    @classmethod
    def size(cls) -> int:
        """Length of the data element in bytes."""
        return _SIZES[cls]

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:  # type: ignore[override]
        """Decode the field; unknown (RFU) bits are kept.

        Raises
        ------
        FieldLengthError
            When ``data`` is not exactly :meth:`size` bytes.
        """
        size = cls.size()
        if len(data) != size:
            raise FieldLengthError(cls.__name__, size, len(data))
        return cls(int.from_bytes(data, "big"))

    def to_bytes(self) -> bytes:  # type: ignore[override]
        """The field as the bytes the card or host expects."""
        return int(self).to_bytes(self.size(), "big")

    def __str__(self) -> str:
        # Logs read "TVR.EXPIRED_APPLICATION|NEW_CARD", never a bare integer.
        return f"{type(self).__name__}.{'|'.join(self.names()) or 'NONE'}"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)

    def names(self) -> list[str]:
        """Set bits as readable names, in spec order; unnamed bits as ``RFU byte N bN``."""
        size = self.size()
        out: list[str] = []
        value = int(self)
        for position in range(size * 8 - 1, -1, -1):
            mask = 1 << position
            if not value & mask:
                continue
            try:
                member = type(self)(mask)
            except ValueError:  # pragma: no cover - KEEP boundary never raises
                member = None
            name = member.name if member is not None else None
            if name is None:
                byte = size - position // 8
                name = f"RFU byte {byte} b{position % 8 + 1}"
            out.append(name)
        return out


# EMV 4.4 Book 3, Annex C1, Table 41 (byte 2 from EMV Contactless Book C-2 A.1.16)
@_sized(2)
class AIP(ByteFlag):
    """Application Interchange Profile (tag 82): what the card supports."""

    XDA_SUPPORTED = _bit(1, 8, 2)
    SDA_SUPPORTED = _bit(1, 7, 2)
    DDA_SUPPORTED = _bit(1, 6, 2)
    CARDHOLDER_VERIFICATION_SUPPORTED = _bit(1, 5, 2)
    TERMINAL_RISK_MANAGEMENT_TO_BE_PERFORMED = _bit(1, 4, 2)
    ISSUER_AUTHENTICATION_SUPPORTED = _bit(1, 3, 2)
    ON_DEVICE_CARDHOLDER_VERIFICATION_SUPPORTED = _bit(1, 2, 2)
    CDA_SUPPORTED = _bit(1, 1, 2)
    EMV_MODE_SUPPORTED = _bit(2, 8, 2)  # contactless kernels
    RELAY_RESISTANCE_PROTOCOL_SUPPORTED = _bit(2, 1, 2)  # Book C-2


# EMV 4.4 Book 3, Annex C2, Table 42
@_sized(2)
class AUC(ByteFlag):
    """Application Usage Control (tag 9F07): where and for what the card is valid."""

    DOMESTIC_CASH = _bit(1, 8, 2)
    INTERNATIONAL_CASH = _bit(1, 7, 2)
    DOMESTIC_GOODS = _bit(1, 6, 2)
    INTERNATIONAL_GOODS = _bit(1, 5, 2)
    DOMESTIC_SERVICES = _bit(1, 4, 2)
    INTERNATIONAL_SERVICES = _bit(1, 3, 2)
    VALID_AT_ATMS = _bit(1, 2, 2)
    VALID_AT_NON_ATM_TERMINALS = _bit(1, 1, 2)
    DOMESTIC_CASHBACK = _bit(2, 8, 2)
    INTERNATIONAL_CASHBACK = _bit(2, 7, 2)


# EMV 4.4 Book 3, Annex C5, Table 46
@_sized(5)
class TVR(ByteFlag):
    """Terminal Verification Results (tag 95): what went wrong, bit by bit."""

    OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED = _bit(1, 8, 5)
    SDA_FAILED = _bit(1, 7, 5)
    ICC_DATA_MISSING = _bit(1, 6, 5)
    CARD_ON_TERMINAL_EXCEPTION_FILE = _bit(1, 5, 5)
    DDA_FAILED = _bit(1, 4, 5)
    CDA_FAILED = _bit(1, 3, 5)
    SDA_SELECTED = _bit(1, 2, 5)
    XDA_SELECTED = _bit(1, 1, 5)
    DIFFERENT_APPLICATION_VERSIONS = _bit(2, 8, 5)
    EXPIRED_APPLICATION = _bit(2, 7, 5)
    APPLICATION_NOT_YET_EFFECTIVE = _bit(2, 6, 5)
    SERVICE_NOT_ALLOWED = _bit(2, 5, 5)
    NEW_CARD = _bit(2, 4, 5)
    BIOMETRIC_PERFORMED_AND_SUCCESSFUL = _bit(2, 2, 5)
    BIOMETRIC_TEMPLATE_FORMAT_NOT_SUPPORTED = _bit(2, 1, 5)
    CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL = _bit(3, 8, 5)
    UNRECOGNISED_CVM = _bit(3, 7, 5)
    PIN_TRY_LIMIT_EXCEEDED = _bit(3, 6, 5)
    PIN_PAD_NOT_PRESENT_OR_NOT_WORKING = _bit(3, 5, 5)
    PIN_NOT_ENTERED = _bit(3, 4, 5)
    ONLINE_CVM_CAPTURED = _bit(3, 3, 5)  # "Online PIN entered" before EMV 4.4
    BIOMETRIC_CAPTURE_DEVICE_NOT_WORKING = _bit(3, 2, 5)
    BIOMETRIC_SUBTYPE_BYPASSED = _bit(3, 1, 5)
    FLOOR_LIMIT_EXCEEDED = _bit(4, 8, 5)
    LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED = _bit(4, 7, 5)
    UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED = _bit(4, 6, 5)
    SELECTED_RANDOMLY_FOR_ONLINE = _bit(4, 5, 5)
    MERCHANT_FORCED_ONLINE = _bit(4, 4, 5)
    BIOMETRIC_TRY_LIMIT_EXCEEDED = _bit(4, 3, 5)
    BIOMETRIC_TYPE_NOT_SUPPORTED = _bit(4, 2, 5)
    XDA_SIGNATURE_VERIFICATION_FAILED = _bit(4, 1, 5)
    DEFAULT_TDOL_USED = _bit(5, 8, 5)
    ISSUER_AUTHENTICATION_FAILED = _bit(5, 7, 5)
    SCRIPT_FAILED_BEFORE_FINAL_GENERATE_AC = _bit(5, 6, 5)
    SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC = _bit(5, 5, 5)
    CA_ECC_KEY_MISSING = _bit(5, 3, 5)
    ECC_KEY_RECOVERY_FAILED = _bit(5, 2, 5)
    # byte 5 b4 and b1: reserved for the EMV Contactless Specifications


# EMV 4.4 Book 3, Annex C6, Table 47
@_sized(2)
class TSI(ByteFlag):
    """Transaction Status Information (tag 9B): which functions were performed."""

    OFFLINE_DATA_AUTHENTICATION_PERFORMED = _bit(1, 8, 2)
    CARDHOLDER_VERIFICATION_PERFORMED = _bit(1, 7, 2)
    CARD_RISK_MANAGEMENT_PERFORMED = _bit(1, 6, 2)
    ISSUER_AUTHENTICATION_PERFORMED = _bit(1, 5, 2)
    TERMINAL_RISK_MANAGEMENT_PERFORMED = _bit(1, 4, 2)
    SCRIPT_PROCESSING_PERFORMED = _bit(1, 3, 2)


# EMV 4.4 Book 4, Annex A2, Tables 25-27
@_sized(3)
class TerminalCapabilities(ByteFlag):
    """Terminal Capabilities (tag 9F33): card input, CVM and security capability."""

    MANUAL_KEY_ENTRY = _bit(1, 8, 3)
    MAGNETIC_STRIPE = _bit(1, 7, 3)
    IC_WITH_CONTACTS = _bit(1, 6, 3)
    PLAINTEXT_PIN_FOR_ICC_VERIFICATION = _bit(2, 8, 3)
    ENCIPHERED_PIN_FOR_ONLINE_VERIFICATION = _bit(2, 7, 3)
    SIGNATURE = _bit(2, 6, 3)
    ENCIPHERED_PIN_FOR_OFFLINE_VERIFICATION_RSA = _bit(2, 5, 3)
    NO_CVM_REQUIRED = _bit(2, 4, 3)
    ONLINE_BIOMETRIC = _bit(2, 3, 3)
    OFFLINE_BIOMETRIC = _bit(2, 2, 3)
    ENCIPHERED_PIN_FOR_OFFLINE_VERIFICATION_ECC = _bit(2, 1, 3)
    SDA = _bit(3, 8, 3)
    DDA = _bit(3, 7, 3)
    CARD_CAPTURE = _bit(3, 6, 3)
    CDA = _bit(3, 4, 3)
    XDA = _bit(3, 3, 3)


# EMV 4.4 Book 4, Annex A3, Tables 28-32
@_sized(5)
class AdditionalTerminalCapabilities(ByteFlag):
    """Additional Terminal Capabilities (tag 9F40): transaction types, keys, output."""

    CASH = _bit(1, 8, 5)
    GOODS = _bit(1, 7, 5)
    SERVICES = _bit(1, 6, 5)
    CASHBACK = _bit(1, 5, 5)
    INQUIRY = _bit(1, 4, 5)
    TRANSFER = _bit(1, 3, 5)
    PAYMENT = _bit(1, 2, 5)
    ADMINISTRATIVE = _bit(1, 1, 5)
    CASH_DEPOSIT = _bit(2, 8, 5)
    NUMERIC_KEYS = _bit(3, 8, 5)
    ALPHABETIC_AND_SPECIAL_KEYS = _bit(3, 7, 5)
    COMMAND_KEYS = _bit(3, 6, 5)
    FUNCTION_KEYS = _bit(3, 5, 5)
    PRINT_ATTENDANT = _bit(4, 8, 5)
    PRINT_CARDHOLDER = _bit(4, 7, 5)
    DISPLAY_ATTENDANT = _bit(4, 6, 5)
    DISPLAY_CARDHOLDER = _bit(4, 5, 5)
    CODE_TABLE_10 = _bit(4, 2, 5)
    CODE_TABLE_9 = _bit(4, 1, 5)
    CODE_TABLE_8 = _bit(5, 8, 5)
    CODE_TABLE_7 = _bit(5, 7, 5)
    CODE_TABLE_6 = _bit(5, 6, 5)
    CODE_TABLE_5 = _bit(5, 5, 5)
    CODE_TABLE_4 = _bit(5, 4, 5)
    CODE_TABLE_3 = _bit(5, 3, 5)
    CODE_TABLE_2 = _bit(5, 2, 5)
    CODE_TABLE_1 = _bit(5, 1, 5)


# EMV Contactless Book A v2.10, 5.7, Table 5-4
@_sized(4)
class TTQ(ByteFlag):
    """Terminal Transaction Qualifiers (tag 9F66), contactless reader capabilities."""

    MAG_STRIPE_MODE_SUPPORTED = _bit(1, 8, 4)
    EMV_MODE_SUPPORTED = _bit(1, 6, 4)
    EMV_CONTACT_CHIP_SUPPORTED = _bit(1, 5, 4)
    OFFLINE_ONLY_READER = _bit(1, 4, 4)
    ONLINE_PIN_SUPPORTED = _bit(1, 3, 4)
    SIGNATURE_SUPPORTED = _bit(1, 2, 4)
    ODA_FOR_ONLINE_AUTHORISATIONS_SUPPORTED = _bit(1, 1, 4)
    ONLINE_CRYPTOGRAM_REQUIRED = _bit(2, 8, 4)
    CVM_REQUIRED = _bit(2, 7, 4)
    CONTACT_CHIP_OFFLINE_PIN_SUPPORTED = _bit(2, 6, 4)
    ISSUER_UPDATE_PROCESSING_SUPPORTED = _bit(3, 8, 4)
    CONSUMER_DEVICE_CVM_SUPPORTED = _bit(3, 7, 4)
    CONSUMER_DEVICE_CVM_REQUIRED = _bit(3, 4, 4)  # Book C-6 D.11
    FDDA_V1_SUPPORTED = _bit(4, 8, 4)  # Book C-7 3.2.2


# EMV Contactless Book C-3 v2.10, Annex A.2
@_sized(2)
class CTQ(ByteFlag):
    """Card Transaction Qualifiers (tag 9F6C): what the card asks of the reader."""

    ONLINE_PIN_REQUIRED = _bit(1, 8, 2)
    SIGNATURE_REQUIRED = _bit(1, 7, 2)
    GO_ONLINE_IF_ODA_FAILS = _bit(1, 6, 2)
    SWITCH_INTERFACE_IF_ODA_FAILS = _bit(1, 5, 2)
    GO_ONLINE_IF_APPLICATION_EXPIRED = _bit(1, 4, 2)
    SWITCH_INTERFACE_FOR_CASH = _bit(1, 3, 2)
    SWITCH_INTERFACE_FOR_CASHBACK = _bit(1, 2, 2)
    NOT_VALID_FOR_CONTACTLESS_ATM = _bit(1, 1, 2)
    CONSUMER_DEVICE_CVM_PERFORMED = _bit(2, 8, 2)
    ISSUER_UPDATE_PROCESSING_SUPPORTED = _bit(2, 7, 2)


# EMV 4.4 Book 3, Annex C3, Table 43 (b6-b1 of CV Rule byte 1)
class CvmCode(enum.IntEnum):
    """Cardholder verification method codes (6 bits)."""

    FAIL_CVM_PROCESSING = 0x00
    PLAINTEXT_PIN_BY_ICC = 0x01
    ENCIPHERED_PIN_ONLINE = 0x02
    PLAINTEXT_PIN_BY_ICC_AND_SIGNATURE = 0x03
    ENCIPHERED_PIN_BY_ICC = 0x04
    ENCIPHERED_PIN_BY_ICC_AND_SIGNATURE = 0x05
    FACIAL_BIOMETRIC_OFFLINE = 0x06
    FACIAL_BIOMETRIC_ONLINE = 0x07
    FINGER_BIOMETRIC_OFFLINE = 0x08
    FINGER_BIOMETRIC_ONLINE = 0x09
    PALM_BIOMETRIC_OFFLINE = 0x0A
    PALM_BIOMETRIC_ONLINE = 0x0B
    IRIS_BIOMETRIC_OFFLINE = 0x0C
    IRIS_BIOMETRIC_ONLINE = 0x0D
    VOICE_BIOMETRIC_OFFLINE = 0x0E
    VOICE_BIOMETRIC_ONLINE = 0x0F
    SIGNATURE = 0x1E
    NO_CVM_REQUIRED = 0x1F
    # Book 4 Annex A4: '3F' in CVM Results means no CVM was performed.
    NO_CVM_PERFORMED = 0x3F


# EMV 4.4 Book 3, Annex C3, Table 44
class CvmCondition(enum.IntEnum):
    """CVM condition codes (CV Rule byte 2)."""

    ALWAYS = 0x00
    UNATTENDED_CASH = 0x01
    NOT_UNATTENDED_CASH_NOT_MANUAL_CASH_NOT_CASHBACK = 0x02
    TERMINAL_SUPPORTS_CVM = 0x03
    MANUAL_CASH = 0x04
    PURCHASE_WITH_CASHBACK = 0x05
    APPLICATION_CURRENCY_UNDER_X = 0x06
    APPLICATION_CURRENCY_OVER_X = 0x07
    APPLICATION_CURRENCY_UNDER_Y = 0x08
    APPLICATION_CURRENCY_OVER_Y = 0x09


# EMV 4.4 Book 4, Annex A4, Table 33 (CVM Results byte 3)
class CvmOutcome(enum.IntEnum):
    """Result byte of CVM Results (tag 9F34)."""

    UNKNOWN = 0x00
    FAILED = 0x01
    SUCCESSFUL = 0x02


CV_RULE_APPLY_SUCCEEDING = 0x40  # EMV 4.4 Book 3, Annex C3: byte 1 b7
CV_RULE_CODE_MASK = 0x3F


def _code_name(code: int) -> str:
    try:
        return CvmCode(code).name
    except ValueError:
        if 0x20 <= code <= 0x2F:
            return f"PAYMENT_SYSTEM_CVM_{code:02X}"
        if 0x30 <= code <= 0x3E:
            return f"ISSUER_CVM_{code:02X}"
        return f"RFU_CVM_{code:02X}"


def _condition_name(condition: int) -> str:
    try:
        return CvmCondition(condition).name
    except ValueError:
        return f"CONDITION_{condition:02X}"


@dataclass(frozen=True, slots=True)
class CvRule:
    """One Cardholder Verification Rule of a CVM List (EMV 4.4 Book 3, Annex C3)."""

    code: int  # 6-bit CVM code, see CvmCode; RFU/proprietary codes stay ints
    condition: int  # see CvmCondition
    apply_succeeding_if_unsuccessful: bool

    @classmethod
    def from_bytes(cls, data: bytes) -> CvRule:
        if len(data) != 2:
            raise FieldLengthError("CV Rule", 2, len(data))
        return cls(data[0] & CV_RULE_CODE_MASK, data[1], bool(data[0] & CV_RULE_APPLY_SUCCEEDING))

    def to_bytes(self) -> bytes:
        first = self.code | (
            CV_RULE_APPLY_SUCCEEDING if self.apply_succeeding_if_unsuccessful else 0
        )
        return bytes((first, self.condition))

    def describe(self) -> str:
        then = ", else next rule" if self.apply_succeeding_if_unsuccessful else ""
        return f"{_code_name(self.code)} if {_condition_name(self.condition)}{then}"


@dataclass(frozen=True, slots=True)
class CvmList:
    """CVM List (tag 8E): amounts X and Y then two-byte rules (EMV 4.4 Book 3, 10.5)."""

    amount_x: int
    amount_y: int
    rules: tuple[CvRule, ...]

    @classmethod
    def from_bytes(cls, data: bytes) -> CvmList:
        """Raises FieldLengthError when shorter than 8 bytes or the rules are ragged."""
        if len(data) < 8 or len(data) % 2:
            raise FieldLengthError("CVM List", "8 + 2n", len(data))
        rules = tuple(CvRule.from_bytes(data[i : i + 2]) for i in range(8, len(data), 2))
        return cls(int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big"), rules)

    def to_bytes(self) -> bytes:
        head = self.amount_x.to_bytes(4, "big") + self.amount_y.to_bytes(4, "big")
        return head + b"".join(rule.to_bytes() for rule in self.rules)


@dataclass(frozen=True, slots=True)
class CvmResults:
    """CVM Results (tag 9F34): CVM performed, its condition, and the outcome."""

    code: int  # CVM code of the last performed rule, 0x3F if none
    apply_succeeding_if_unsuccessful: bool
    condition: int
    result: int  # see CvmOutcome

    @classmethod
    def from_bytes(cls, data: bytes) -> CvmResults:
        # EMV 4.4 Book 4, Annex A4, Table 33
        if len(data) != 3:
            raise FieldLengthError("CVM Results", 3, len(data))
        return cls(
            data[0] & CV_RULE_CODE_MASK,
            bool(data[0] & CV_RULE_APPLY_SUCCEEDING),
            data[1],
            data[2],
        )

    def to_bytes(self) -> bytes:
        first = self.code | (
            CV_RULE_APPLY_SUCCEEDING if self.apply_succeeding_if_unsuccessful else 0
        )
        return bytes((first, self.condition, self.result))

    def describe(self) -> str:
        try:
            outcome = CvmOutcome(self.result).name
        except ValueError:
            outcome = f"RESULT_{self.result:02X}"
        return f"{_code_name(self.code)}, {_condition_name(self.condition)}, {outcome}"


#: Tag -> bit-field class, for renderers that spell fields out.
FLAG_FIELDS: dict[int, type[ByteFlag]] = {
    0x82: AIP,
    0x9F07: AUC,
    0x95: TVR,
    0x9B: TSI,
    0x9F33: TerminalCapabilities,
    0x9F40: AdditionalTerminalCapabilities,
    0x9F66: TTQ,
    0x9F6C: CTQ,
}
