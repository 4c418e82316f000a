"""CVM List rules as data: conditions (Annex C3 Table 44) and methods (Table 43).

Pure functions over plain facts, so each condition and method code can be
tested without a card.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from emv.bits import CvmCode, CvmCondition, CvmList, CvRule, TerminalCapabilities

Caps = TerminalCapabilities


def parse_cvm_list(data: bytes) -> CvmList:
    """CVM List '8E': amount X, amount Y (4 bytes binary each), then 2-byte CV Rules.

    Raises
    ------
    emv.bits.FieldLengthError
        Shorter than 8 bytes or an incomplete rule (EMV 4.4 Book 3, 10.5).
    """
    return CvmList.from_bytes(data)


@dataclass(frozen=True, slots=True)
class CvmFacts:
    """What the conditions of Table 44 look at, gathered once per transaction."""

    amount: int  # Amount, Authorised (9F02) in minor units
    transaction_currency: bytes  # 5F2A
    application_currency: bytes | None  # 9F42, None when the card has none
    attended: bool  # Terminal Type 9F35 x1-x3
    cash: bool
    cashback: bool
    capabilities: Caps


class MethodKind(enum.Enum):
    FAIL = "fail"
    OFFLINE_PLAINTEXT_PIN = "offline plaintext PIN"
    ONLINE_PIN = "online PIN"
    OFFLINE_ENCIPHERED_PIN = "offline enciphered PIN"
    SIGNATURE = "signature"
    NO_CVM = "no CVM required"
    BIOMETRIC = "biometric"


@dataclass(frozen=True, slots=True)
class Method:
    """A recognised CVM: how to perform it, what 9F33 must allow, plus signature."""

    kind: MethodKind
    needs: Caps  # all of these Terminal Capabilities bits (Book 4, 6.3.4)
    with_signature: bool = False

    def pin_pad_missing(self, capabilities: Caps) -> bool:
        """Book 3, 10.5.1/10.5.2: an unsupported PIN CVM means 'PIN pad not present'.

        For offline PIN only when neither offline form is supported (as EMV
        Contactless Book C-2, CVM.9 notes spell out).
        """
        if self.kind is MethodKind.ONLINE_PIN:
            return Caps.ENCIPHERED_PIN_FOR_ONLINE_VERIFICATION not in capabilities
        if self.kind in (MethodKind.OFFLINE_PLAINTEXT_PIN, MethodKind.OFFLINE_ENCIPHERED_PIN):
            return not capabilities & OFFLINE_PIN_FORMS
        return False

    def supported(self, capabilities: Caps) -> bool:
        if self.kind is MethodKind.FAIL:
            return True  # Book 4, 6.3.4: Fail CVM is always supported
        if self.kind is MethodKind.BIOMETRIC:
            return False  # this terminal captures no biometrics
        return self.needs in capabilities


OFFLINE_PIN_FORMS = (
    Caps.PLAINTEXT_PIN_FOR_ICC_VERIFICATION | Caps.ENCIPHERED_PIN_FOR_OFFLINE_VERIFICATION_RSA
)
_BIOMETRIC = Method(MethodKind.BIOMETRIC, Caps(0))

# EMV 4.4 Book 3, Annex C3, Table 43; support per Book 4 Annex A2 (9F33 byte 2)
METHODS: dict[int, Method] = {
    CvmCode.FAIL_CVM_PROCESSING: Method(MethodKind.FAIL, Caps(0)),
    CvmCode.PLAINTEXT_PIN_BY_ICC: Method(
        MethodKind.OFFLINE_PLAINTEXT_PIN, Caps.PLAINTEXT_PIN_FOR_ICC_VERIFICATION
    ),
    CvmCode.ENCIPHERED_PIN_ONLINE: Method(
        MethodKind.ONLINE_PIN, Caps.ENCIPHERED_PIN_FOR_ONLINE_VERIFICATION
    ),
    CvmCode.PLAINTEXT_PIN_BY_ICC_AND_SIGNATURE: Method(
        MethodKind.OFFLINE_PLAINTEXT_PIN,
        Caps.PLAINTEXT_PIN_FOR_ICC_VERIFICATION | Caps.SIGNATURE,
        with_signature=True,
    ),
    CvmCode.ENCIPHERED_PIN_BY_ICC: Method(
        MethodKind.OFFLINE_ENCIPHERED_PIN, Caps.ENCIPHERED_PIN_FOR_OFFLINE_VERIFICATION_RSA
    ),
    CvmCode.ENCIPHERED_PIN_BY_ICC_AND_SIGNATURE: Method(
        MethodKind.OFFLINE_ENCIPHERED_PIN,
        Caps.ENCIPHERED_PIN_FOR_OFFLINE_VERIFICATION_RSA | Caps.SIGNATURE,
        with_signature=True,
    ),
    **{code: _BIOMETRIC for code in range(0x06, 0x10)},
    CvmCode.SIGNATURE: Method(MethodKind.SIGNATURE, Caps.SIGNATURE),
    CvmCode.NO_CVM_REQUIRED: Method(MethodKind.NO_CVM, Caps.NO_CVM_REQUIRED),
}


def method_of(code: int) -> Method | None:
    """The recognised method for a 6-bit CVM code, or None (RFU, proprietary, '3F')."""
    return METHODS.get(code)


def _supports(rule: CvRule, facts: CvmFacts) -> bool:
    method = method_of(rule.code)
    return method is not None and method.supported(facts.capabilities)


def _in_application_currency(facts: CvmFacts) -> bool:
    return facts.application_currency == facts.transaction_currency


_Check = Callable[[CvRule, CvmList, CvmFacts], bool]

# EMV 4.4 Book 3, Annex C3, Table 44 CVM Condition Codes
CONDITIONS: dict[int, _Check] = {
    CvmCondition.ALWAYS: lambda rule, cvm, f: True,
    CvmCondition.UNATTENDED_CASH: lambda rule, cvm, f: f.cash and not f.attended,
    CvmCondition.NOT_UNATTENDED_CASH_NOT_MANUAL_CASH_NOT_CASHBACK: (
        lambda rule, cvm, f: not f.cash and not f.cashback
    ),
    CvmCondition.TERMINAL_SUPPORTS_CVM: lambda rule, cvm, f: _supports(rule, f),
    CvmCondition.MANUAL_CASH: lambda rule, cvm, f: f.cash and f.attended,
    CvmCondition.PURCHASE_WITH_CASHBACK: lambda rule, cvm, f: f.cashback,
    CvmCondition.APPLICATION_CURRENCY_UNDER_X: (
        lambda rule, cvm, f: _in_application_currency(f) and f.amount < cvm.amount_x
    ),
    CvmCondition.APPLICATION_CURRENCY_OVER_X: (
        lambda rule, cvm, f: _in_application_currency(f) and f.amount > cvm.amount_x
    ),
    CvmCondition.APPLICATION_CURRENCY_UNDER_Y: (
        lambda rule, cvm, f: _in_application_currency(f) and f.amount < cvm.amount_y
    ),
    CvmCondition.APPLICATION_CURRENCY_OVER_Y: (
        lambda rule, cvm, f: _in_application_currency(f) and f.amount > cvm.amount_y
    ),
}


def evaluate_condition(rule: CvRule, cvm_list: CvmList, facts: CvmFacts) -> bool:
    """Book 3, 10.5: is the rule's condition satisfied?

    False also when data the condition needs is absent (no '9F42' for the
    amount conditions) or the condition code is not understood (RFU or
    proprietary): the terminal then bypasses the rule.
    """
    check = CONDITIONS.get(rule.condition)
    return check is not None and check(rule, cvm_list, facts)
