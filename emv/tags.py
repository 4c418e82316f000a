"""The EMV data dictionary: tag -> name, format, source, length range, template.

One row per data element of EMV 4.4 Book 3 Annex A (Table 33), plus the
contactless elements terminals meet daily (EMV Contactless Books A, C-2, C-3).
Behaviour that depends on a tag's format (DOL padding, display) reads this table
instead of growing ``if`` chains.

Where two contactless kernels give one tag different meanings (9F5D, 9F69, 9F6C,
9F6E, 9F7C), the name carries both and the format is ``b``; the kernel that owns
the transaction interprets the value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from emv import bits
from emv.tlv import is_constructed


class Format(enum.Enum):
    """Data element formats, EMV 4.4 Book 3 section 4.3."""

    A = "a"  # alphabetic
    AN = "an"  # alphanumeric
    ANS = "ans"  # alphanumeric special
    B = "b"  # binary, including bit fields
    CN = "cn"  # compressed numeric: BCD, left justified, padded with trailing 'F'
    N = "n"  # numeric: BCD, right justified, padded with leading '0'
    VAR = "var"  # constructed (template) or variable structure


class Source(enum.Flag):
    """Who provides the data element."""

    ICC = enum.auto()
    TERMINAL = enum.auto()
    ISSUER = enum.auto()


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One row of the data dictionary. Lengths are in bytes."""

    tag: int
    name: str
    spec: str  # the format as the book writes it: "n 12", "ans 1-16", "b"
    source: Source
    min_length: int
    max_length: int
    template: tuple[int, ...] = ()
    kind: str = ""  # how to display it beyond its format: see format_value

    @property
    def format(self) -> Format:
        return Format(self.spec.split()[0])

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)


_I = Source.ICC
_T = Source.TERMINAL
_S = Source.ISSUER
_NI = 248  # certificates and signatures: up to the key modulus length (N_I, N_IC)

# (tag, name, format as in the book, source, min bytes, max bytes, templates, kind)
# fmt: off
_ROWS: tuple[tuple[int, str, str, Source, int, int, tuple[int, ...], str], ...] = (
    # --- EMV 4.4 Book 3, Annex A, Table 33 ---
    (0x9F01, "Acquirer Identifier", "n 6-11", _T, 6, 6, (), ""),
    (0x9F40, "Additional Terminal Capabilities", "b", _T, 5, 5, (), "bits"),
    (0x81, "Amount, Authorised (Binary)", "b", _T, 4, 4, (), "uint"),
    (0x9F02, "Amount, Authorised (Numeric)", "n 12", _T, 6, 6, (), "amount"),
    (0x9F04, "Amount, Other (Binary)", "b", _T, 4, 4, (), "uint"),
    (0x9F03, "Amount, Other (Numeric)", "n 12", _T, 6, 6, (), "amount"),
    (0x9F3A, "Amount, Reference Currency", "b", _T, 4, 4, (), "uint"),
    (0x9F26, "Application Cryptogram", "b", _I, 8, 8, (0x77, 0x80), ""),
    (0x9F42, "Application Currency Code", "n 3", _I, 2, 2, (0x70, 0x77), ""),
    (0x9F44, "Application Currency Exponent", "n 1", _I, 1, 1, (0x70, 0x77), ""),
    (0x9F05, "Application Discretionary Data", "b", _I, 1, 32, (0x70, 0x77), ""),
    (0x5F25, "Application Effective Date", "n 6", _I, 3, 3, (0x70, 0x77), "date"),
    (0x5F24, "Application Expiration Date", "n 6", _I, 3, 3, (0x70, 0x77), "date"),
    (0x94, "Application File Locator (AFL)", "var", _I, 4, 252, (0x77, 0x80), "afl"),
    (0x4F, "Application Dedicated File (ADF) Name", "b", _I, 5, 16, (0x61,), ""),
    (0x9F06, "Application Identifier (AID) - terminal", "b", _T, 5, 16, (), ""),
    (0x82, "Application Interchange Profile", "b", _I, 2, 2, (0x77, 0x80), "bits"),
    (0x50, "Application Label", "ans 1-16", _I, 1, 16, (0x61, 0xA5), ""),
    (0x9F12, "Application Preferred Name", "ans 1-16", _I, 1, 16, (0x61, 0xA5), ""),
    (0x5A, "Application Primary Account Number (PAN)", "cn ..19", _I, 1, 10, (0x70, 0x77), "pan"),
    (0x5F34, "Application PAN Sequence Number", "n 2", _I, 1, 1, (0x70, 0x77), ""),
    (0x87, "Application Priority Indicator", "b", _I, 1, 1, (0x61, 0xA5), ""),
    (0x9F3B, "Application Reference Currency", "n 3", _I, 2, 8, (0x70, 0x77), ""),
    (0x9F43, "Application Reference Currency Exponent", "n 1", _I, 1, 4, (0x70, 0x77), ""),
    (0x61, "Application Template", "var", _I, 0, 252, (0x70,), ""),
    (0x9F36, "Application Transaction Counter (ATC)", "b", _I, 2, 2, (0x77, 0x80), "uint"),
    (0x9F07, "Application Usage Control", "b", _I, 2, 2, (0x70, 0x77), "bits"),
    (0x9F08, "Application Version Number", "b", _I, 2, 2, (0x70, 0x77), ""),
    (0x9F09, "Application Version Number (terminal)", "b", _T, 2, 2, (), ""),
    (0x89, "Authorisation Code", "an 6", _S, 6, 6, (), ""),
    (0x8A, "Authorisation Response Code", "an 2", _S | _T, 2, 2, (), ""),
    (0x5F54, "Bank Identifier Code (BIC)", "var", _I, 8, 11, (0xBF0C, 0x73), "text"),
    (0x8C, "Card Risk Management Data Object List 1 (CDOL1)", "b", _I, 0, 252, (0x70, 0x77), "dol"),
    (0x8D, "Card Risk Management Data Object List 2 (CDOL2)", "b", _I, 0, 252, (0x70, 0x77), "dol"),
    (0x5F20, "Cardholder Name", "ans 2-26", _I, 2, 26, (0x70, 0x77), ""),
    (0x9F0B, "Cardholder Name Extended", "ans 27-45", _I, 27, 45, (0x70, 0x77), ""),
    (0x8E, "Cardholder Verification Method (CVM) List", "b", _I, 10, 252, (0x70, 0x77), "cvm_list"),
    (0x9F34, "Cardholder Verification Method (CVM) Results", "b", _T, 3, 3, (), "cvm_results"),
    (0x8F, "Certification Authority Public Key Index", "b", _I, 1, 1, (0x70, 0x77), ""),
    (0x9F22, "Certification Authority Public Key Index (terminal)", "b", _T, 1, 1, (), ""),
    (0x83, "Command Template", "b", _T, 0, 252, (), ""),
    (0x9F27, "Cryptogram Information Data", "b", _I, 1, 1, (0x77, 0x80), ""),
    (0x9F45, "Data Authentication Code", "b", _I, 2, 2, (), ""),
    (0x84, "Dedicated File (DF) Name", "b", _I, 5, 16, (0x6F,), "name"),
    (0x9D, "Directory Definition File (DDF) Name", "b", _I, 5, 16, (0x61,), "name"),
    (0x73, "Directory Discretionary Template", "var", _I, 0, 252, (0x61,), ""),
    (0x9F49, "Dynamic Data Authentication Data Object List (DDOL)",
        "b", _I, 0, 252, (0x70,), "dol"),
    (0x70, "READ RECORD Response Message Template", "var", _I, 0, 252, (), ""),
    (0xBF0C, "File Control Information (FCI) Issuer Discretionary Data",
        "var", _I, 0, 222, (0xA5,), ""),
    (0xA5, "File Control Information (FCI) Proprietary Template", "var", _I, 0, 252, (0x6F,), ""),
    (0x6F, "File Control Information (FCI) Template", "var", _I, 0, 252, (), ""),
    (0x9F4C, "ICC Dynamic Number", "b", _I, 2, 8, (), ""),
    (0x9F2D, "ICC PIN Encipherment Public Key Certificate", "b", _I, 1, _NI, (0x70, 0x77), ""),
    (0x9F2E, "ICC PIN Encipherment Public Key Exponent", "b", _I, 1, 3, (0x70, 0x77), ""),
    (0x9F2F, "ICC PIN Encipherment Public Key Remainder", "b", _I, 1, _NI, (0x70, 0x77), ""),
    (0x9F46, "ICC Public Key Certificate", "b", _I, 1, _NI, (0x70, 0x77), ""),
    (0x9F47, "ICC Public Key Exponent", "b", _I, 1, 3, (0x70, 0x77), ""),
    (0x9F48, "ICC Public Key Remainder", "b", _I, 1, _NI, (0x70, 0x77), ""),
    (0x9F1E, "Interface Device (IFD) Serial Number", "an 8", _T, 8, 8, (), ""),
    (0x5F53, "International Bank Account Number (IBAN)", "var", _I, 1, 34, (0xBF0C, 0x73), "text"),
    (0x9F0D, "Issuer Action Code - Default", "b", _I, 5, 5, (0x70, 0x77), "bits_tvr"),
    (0x9F0E, "Issuer Action Code - Denial", "b", _I, 5, 5, (0x70, 0x77), "bits_tvr"),
    (0x9F0F, "Issuer Action Code - Online", "b", _I, 5, 5, (0x70, 0x77), "bits_tvr"),
    (0x9F10, "Issuer Application Data", "b", _I, 1, 32, (0x77, 0x80), ""),
    (0x91, "Issuer Authentication Data", "b", _S, 8, 16, (), ""),
    (0x9F11, "Issuer Code Table Index", "n 2", _I, 1, 1, (0xA5,), ""),
    (0x5F28, "Issuer Country Code", "n 3", _I, 2, 2, (0x70, 0x77), ""),
    (0x5F55, "Issuer Country Code (alpha2 format)", "a 2", _I, 2, 2, (0xBF0C, 0x73), ""),
    (0x5F56, "Issuer Country Code (alpha3 format)", "a 3", _I, 3, 3, (0xBF0C, 0x73), ""),
    (0x42, "Issuer Identification Number (IIN)", "n 6", _I, 3, 3, (0xBF0C, 0x73), ""),
    (0x9F0C, "Issuer Identification Number Extended (IINE)", "n 6-8", _I, 3, 4, (0xBF0C, 0x73), ""),
    (0x90, "Issuer Public Key Certificate", "b", _I, 1, _NI, (0x70, 0x77), ""),
    (0x9F32, "Issuer Public Key Exponent", "b", _I, 1, 3, (0x70, 0x77), ""),
    (0x92, "Issuer Public Key Remainder", "b", _I, 1, _NI, (0x70, 0x77), ""),
    (0x86, "Issuer Script Command", "b", _S, 0, 261, (0x71, 0x72), ""),
    (0x9F18, "Issuer Script Identifier", "b", _S, 4, 4, (0x71, 0x72), ""),
    (0x71, "Issuer Script Template 1", "var", _S, 0, 252, (), ""),
    (0x72, "Issuer Script Template 2", "var", _S, 0, 252, (), ""),
    (0x5F50, "Issuer URL", "ans", _I, 1, 252, (0xBF0C, 0x73), ""),
    (0x5F2D, "Language Preference", "an 2-8", _I, 2, 8, (0xA5,), ""),
    (0x9F13, "Last Online Application Transaction Counter (ATC) Register",
        "b", _I, 2, 2, (), "uint"),
    (0x9F4D, "Log Entry", "b", _I, 2, 2, (0xBF0C, 0x73), ""),
    (0x9F4F, "Log Format", "b", _I, 0, 252, (), "dol"),
    (0x9F14, "Lower Consecutive Offline Limit", "b", _I, 1, 1, (0x70, 0x77), "uint"),
    (0x9F15, "Merchant Category Code", "n 4", _T, 2, 2, (), ""),
    (0x9F16, "Merchant Identifier", "ans 15", _T, 15, 15, (), ""),
    (0x9F4E, "Merchant Name and Location", "ans", _T, 0, 252, (), ""),
    (0x9F17, "Personal Identification Number (PIN) Try Counter", "b", _I, 1, 1, (), "uint"),
    (0x9F39, "Point-of-Service (POS) Entry Mode", "n 2", _T, 1, 1, (), ""),
    (0x9F38, "Processing Options Data Object List (PDOL)", "b", _I, 0, 252, (0xA5,), "dol"),
    (0x80, "Response Message Template Format 1", "var", _I, 0, 252, (), ""),
    (0x77, "Response Message Template Format 2", "var", _I, 0, 252, (), ""),
    (0x5F30, "Service Code", "n 3", _I, 2, 2, (0x70, 0x77), ""),
    (0x88, "Short File Identifier (SFI)", "b", _I, 1, 1, (0xA5,), "uint"),
    (0x9F4B, "Signed Dynamic Application Data", "b", _I, 1, _NI, (0x77, 0x80), ""),
    (0x93, "Signed Static Application Data", "b", _I, 1, _NI, (0x70, 0x77), ""),
    (0x9F4A, "Static Data Authentication Tag List", "var", _I, 0, 252, (0x70, 0x77), ""),
    (0x9F33, "Terminal Capabilities", "b", _T, 3, 3, (), "bits"),
    (0x9F1A, "Terminal Country Code", "n 3", _T, 2, 2, (), ""),
    (0x9F1B, "Terminal Floor Limit", "b", _T, 4, 4, (), "uint"),
    (0x9F1C, "Terminal Identification", "an 8", _T, 8, 8, (), ""),
    (0x9F1D, "Terminal Risk Management Data", "b", _T, 1, 8, (), ""),
    (0x9F35, "Terminal Type", "n 2", _T, 1, 1, (), ""),
    (0x95, "Terminal Verification Results", "b", _T, 5, 5, (), "bits"),
    (0x9F1F, "Track 1 Discretionary Data", "ans", _I, 0, 54, (0x70, 0x77), "secret"),
    (0x9F20, "Track 2 Discretionary Data", "cn", _I, 0, 16, (0x70, 0x77), "secret"),
    (0x57, "Track 2 Equivalent Data", "b", _I, 0, 19, (0x70, 0x77), "track2"),
    (0x98, "Transaction Certificate (TC) Hash Value", "b", _T, 20, 20, (), ""),
    (0x97, "Transaction Certificate Data Object List (TDOL)", "b", _I, 0, 252, (0x70, 0x77), "dol"),
    (0x5F2A, "Transaction Currency Code", "n 3", _T, 2, 2, (), ""),
    (0x5F36, "Transaction Currency Exponent", "n 1", _T, 1, 1, (), ""),
    (0x9A, "Transaction Date", "n 6", _T, 3, 3, (), "date"),
    (0x99, "Transaction Personal Identification Number (PIN) Data", "b", _T, 0, 252, (), "secret"),
    (0x9F3C, "Transaction Reference Currency Code", "n 3", _T, 2, 2, (), ""),
    (0x9F3D, "Transaction Reference Currency Exponent", "n 1", _T, 1, 1, (), ""),
    (0x9F41, "Transaction Sequence Counter", "n 4-8", _T, 2, 4, (), ""),
    (0x9B, "Transaction Status Information", "b", _T, 2, 2, (), "bits"),
    (0x9F21, "Transaction Time", "n 6", _T, 3, 3, (), "time"),
    (0x9C, "Transaction Type", "n 2", _T, 1, 1, (), ""),
    (0x9F37, "Unpredictable Number", "b", _T, 4, 4, (), ""),
    (0x9F23, "Upper Consecutive Offline Limit", "b", _I, 1, 1, (0x70, 0x77), "uint"),
    (0x9F24, "Payment Account Reference (PAR)", "an 29", _I, 29, 29, (0x70, 0x77), ""),
    (0x9F19, "Token Requestor ID", "n 11", _I, 6, 6, (0x70, 0x77), ""),
    (0x9F25, "Last 4 Digits of PAN", "n 4", _I, 2, 2, (0x70, 0x77), ""),
    (0x9F0A, "Application Selection Registered Proprietary Data", "b", _I, 0, 252, (0xBF0C,), ""),
    (0x5F57, "Account Type", "n 2", _T, 1, 1, (), ""),
    (0x9F2A, "Kernel Identifier", "b", _I, 1, 8, (0x61, 0xBF0C), ""),  # Book B 3.3
    (0x9F29, "Extended Selection", "b", _I, 0, 11, (0x61,), ""),  # Book B 3.3
    # --- EMV Contactless Book A / C-3 (Visa) ---
    (0x9F66, "Terminal Transaction Qualifiers (TTQ)", "b", _T, 4, 4, (), "bits"),
    (0x9F6C, "Card Transaction Qualifiers (CTQ) / Mag-stripe Application Version Number (Card)",
        "b", _I, 2, 2, (0x77,), "bits"),
    (0x9F69, "Card Authentication Related Data / UDOL", "b", _I, 0, 252, (0x70, 0x77), ""),
    (0x9F6E, "Form Factor Indicator / Third Party Data", "b", _I, 4, 32, (0x70, 0x77, 0xBF0C), ""),
    (0x9F7C, "Customer Exclusive Data / Merchant Custom Data", "b", _I, 0, 32, (0x77,), ""),
    (0x9F5D, "Available Offline Spending Amount / Application Capabilities Information",
        "b", _I, 3, 6, (0x77, 0xA5), ""),
    (0x9F5A, "Application Program Identifier", "b", _I, 1, 16, (0xBF0C,), ""),
    (0x9F5B, "Issuer Script Results", "b", _T, 0, 252, (), ""),
    (0x9F6D, "Mag-stripe Application Version Number (Reader) / Contactless Reader Capabilities",
        "b", _T, 1, 2, (), ""),
    # --- EMV Contactless Book C-2 (kernel 2) ---
    (0x56, "Track 1 Data", "ans", _I, 0, 76, (0x70,), "secret"),
    (0x9F6B, "Track 2 Data", "b", _I, 0, 19, (0x70,), "track2"),
    (0x9F50, "Offline Accumulator Balance", "n 12", _I, 6, 6, (), "amount"),
    (0x9F51, "DRDOL", "b", _I, 0, 252, (0x70,), "dol"),
    (0x9F53, "Transaction Category Code", "an 1", _T, 1, 1, (), ""),
    (0x9F54, "DS ODS Card", "b", _I, 0, 160, (0x70,), ""),
    (0x9F5C, "DS Requested Operator ID", "b", _T, 8, 8, (), ""),
    (0x9F5E, "DS ID", "n 16-22", _I, 8, 11, (0xA5,), ""),
    (0x9F5F, "DS Slot Availability", "b", _I, 1, 1, (0xA5,), ""),
    (0x9F60, "CVC3 (Track1)", "b", _I, 2, 2, (0x77,), ""),
    (0x9F61, "CVC3 (Track2)", "b", _I, 2, 2, (0x77,), ""),
    (0x9F62, "PCVC3 (Track1)", "b", _I, 6, 6, (0x70,), ""),
    (0x9F63, "PUNATC (Track1)", "b", _I, 6, 6, (0x70,), ""),
    (0x9F64, "NATC (Track1)", "b", _I, 1, 1, (0x70,), ""),
    (0x9F65, "PCVC3 (Track2)", "b", _I, 2, 2, (0x70,), ""),
    (0x9F67, "NATC (Track2)", "b", _I, 1, 1, (0x70,), ""),
    (0x9F6A, "Unpredictable Number (Numeric)", "n 8", _T, 4, 4, (), ""),
    (0x9F6F, "DS Slot Management Control", "b", _I, 1, 1, (0xA5,), ""),
    (0x9F70, "Protected Data Envelope 1", "b", _I, 0, 192, (), ""),
    (0x9F71, "Protected Data Envelope 2", "b", _I, 0, 192, (), ""),
    (0x9F72, "Protected Data Envelope 3", "b", _I, 0, 192, (), ""),
    (0x9F73, "Protected Data Envelope 4", "b", _I, 0, 192, (), ""),
    (0x9F74, "Protected Data Envelope 5", "b", _I, 0, 192, (), ""),
    (0x9F75, "Unprotected Data Envelope 1", "b", _I, 0, 192, (), ""),
    (0x9F76, "Unprotected Data Envelope 2", "b", _I, 0, 192, (), ""),
    (0x9F77, "Unprotected Data Envelope 3", "b", _I, 0, 192, (), ""),
    (0x9F78, "Unprotected Data Envelope 4", "b", _I, 0, 192, (), ""),
    (0x9F79, "Unprotected Data Envelope 5", "b", _I, 0, 192, (), ""),
    (0x9F7D, "DS Summary 1", "b", _I, 8, 16, (0x77,), ""),
    (0x9F7E, "Mobile Support Indicator", "b", _T, 1, 1, (), ""),
    (0x9F7F, "DS Unpredictable Number", "b", _T, 4, 4, (), ""),
    (0xDF4B, "POS Cardholder Interaction Information", "b", _I, 3, 3, (0x77,), ""),
    (0xDF60, "DS Input (Card)", "b", _T, 8, 8, (), ""),
    (0xDF61, "DS Digest H", "b", _T, 8, 8, (), ""),
    (0xDF62, "DS ODS Info", "b", _T, 1, 1, (), ""),
    (0xDF63, "DS ODS Term", "b", _T, 0, 160, (), ""),
    (0xDF8101, "DS Summary 2", "b", _T, 8, 16, (), ""),
    (0xDF8102, "DS Summary 3", "b", _T, 8, 16, (), ""),
    (0xDF8104, "Balance Read Before Gen AC", "n 12", _T, 6, 6, (), "amount"),
    (0xDF8105, "Balance Read After Gen AC", "n 12", _T, 6, 6, (), "amount"),
    (0xDF8106, "Data Needed", "b", _T, 0, 252, (), ""),
    (0xDF8107, "CDOL1 Related Data", "b", _T, 0, 252, (), ""),
    (0xDF8108, "DS AC Type", "b", _T, 1, 1, (), ""),
    (0xDF8109, "DS Input (Term)", "b", _T, 8, 8, (), ""),
    (0xDF810A, "DS ODS Info For Reader", "b", _T, 1, 1, (), ""),
    (0xDF810B, "DS Summary Status", "b", _T, 1, 1, (), ""),
    (0xDF810C, "Kernel ID", "b", _T, 1, 1, (), ""),
    (0xDF810D, "DSVN Term", "b", _T, 0, 252, (), ""),
    (0xDF810E, "Post-Gen AC Put Data Status", "b", _T, 1, 1, (), ""),
    (0xDF810F, "Pre-Gen AC Put Data Status", "b", _T, 1, 1, (), ""),
    (0xDF8110, "Proceed To First Write Flag", "b", _T, 1, 1, (), ""),
    (0xDF8111, "PDOL Related Data", "b", _T, 0, 252, (), ""),
    (0xDF8112, "Tags To Read", "b", _T, 0, 252, (), ""),
    (0xDF8113, "DRDOL Related Data", "b", _T, 0, 252, (), ""),
    (0xDF8114, "Reference Control Parameter", "b", _T, 1, 1, (), ""),
    (0xDF8115, "Error Indication", "b", _T, 6, 6, (), ""),
    (0xDF8116, "User Interface Request Data", "b", _T, 22, 22, (), ""),
    (0xDF8117, "Card Data Input Capability", "b", _T, 1, 1, (), ""),
    (0xDF8118, "CVM Capability - CVM Required", "b", _T, 1, 1, (), ""),
    (0xDF8119, "CVM Capability - No CVM Required", "b", _T, 1, 1, (), ""),
    (0xDF811A, "Default UDOL", "b", _T, 3, 3, (), "dol"),
    (0xDF811B, "Kernel Configuration", "b", _T, 1, 1, (), ""),
    (0xDF811C, "Max Lifetime of Torn Transaction Log Record", "b", _T, 2, 2, (), "uint"),
    (0xDF811D, "Max Number of Torn Transaction Log Records", "b", _T, 1, 1, (), "uint"),
    (0xDF811E, "Mag-stripe CVM Capability - CVM Required", "b", _T, 1, 1, (), ""),
    (0xDF811F, "Security Capability", "b", _T, 1, 1, (), ""),
    (0xDF8120, "Terminal Action Code - Default", "b", _T, 5, 5, (), "bits_tvr"),
    (0xDF8121, "Terminal Action Code - Denial", "b", _T, 5, 5, (), "bits_tvr"),
    (0xDF8122, "Terminal Action Code - Online", "b", _T, 5, 5, (), "bits_tvr"),
    (0xDF8123, "Reader Contactless Floor Limit", "n 12", _T, 6, 6, (), "amount"),
    (0xDF8124, "Reader Contactless Transaction Limit (No On-device CVM)",
        "n 12", _T, 6, 6, (), "amount"),
    (0xDF8125, "Reader Contactless Transaction Limit (On-device CVM)",
        "n 12", _T, 6, 6, (), "amount"),
    (0xDF8126, "Reader CVM Required Limit", "n 12", _T, 6, 6, (), "amount"),
    (0xDF8127, "Time Out Value", "b", _T, 2, 2, (), "uint"),
    (0xDF8128, "IDS Status", "b", _T, 1, 1, (), ""),
    (0xDF8129, "Outcome Parameter Set", "b", _T, 8, 8, (), ""),
    (0xDF812A, "DD Card (Track1)", "ans", _T, 0, 56, (), "secret"),
    (0xDF812B, "DD Card (Track2)", "b", _T, 0, 8, (), "secret"),
    (0xDF812C, "Mag-stripe CVM Capability - No CVM Required", "b", _T, 1, 1, (), ""),
    (0xDF812D, "Message Hold Time", "n 6", _T, 3, 3, (), ""),
    (0xDF8130, "Hold Time Value", "b", _T, 1, 1, (), "uint"),
    (0xDF8131, "Phone Message Table", "b", _T, 0, 252, (), ""),
    (0xDF8132, "Minimum Relay Resistance Grace Period", "b", _T, 2, 2, (), "uint"),
    (0xDF8133, "Maximum Relay Resistance Grace Period", "b", _T, 2, 2, (), "uint"),
    (0xDF8134, "Terminal Expected Transmission Time For Relay Resistance C-APDU",
        "b", _T, 2, 2, (), "uint"),
    (0xDF8135, "Terminal Expected Transmission Time For Relay Resistance R-APDU",
        "b", _T, 2, 2, (), "uint"),
    (0xDF8136, "Relay Resistance Accuracy Threshold", "b", _T, 2, 2, (), "uint"),
    (0xDF8137, "Relay Resistance Transmission Time Mismatch Threshold", "b", _T, 1, 1, (), "uint"),
    (0xDF8301, "Terminal Relay Resistance Entropy", "b", _T, 4, 4, (), ""),
    (0xDF8302, "Device Relay Resistance Entropy", "b", _I, 4, 4, (), ""),
    (0xDF8303, "Min Time For Processing Relay Resistance APDU", "b", _I, 2, 2, (), "uint"),
    (0xDF8304, "Max Time For Processing Relay Resistance APDU", "b", _I, 2, 2, (), "uint"),
    (0xDF8305, "Device Estimated Transmission Time For Relay Resistance R-APDU",
        "b", _I, 2, 2, (), "uint"),
    (0xDF8306, "Measured Relay Resistance Processing Time", "b", _T, 2, 2, (), "uint"),
    (0xDF8307, "RRP Counter", "b", _T, 1, 1, (), "uint"),
    (0xFF8101, "Torn Record", "var", _T, 0, 1024, (), ""),
    (0xFF8102, "Tags To Write Before Gen AC", "var", _T, 0, 1024, (), ""),
    (0xFF8103, "Tags To Write After Gen AC", "var", _T, 0, 1024, (), ""),
    (0xFF8104, "Data To Send", "var", _T, 0, 1024, (), ""),
    (0xFF8105, "Data Record", "var", _T, 0, 1024, (), ""),
    (0xFF8106, "Discretionary Data", "var", _T, 0, 1024, (), ""),
)

# fmt: on

TAGS: Mapping[int, TagInfo] = MappingProxyType({row[0]: TagInfo(*row) for row in _ROWS})


def lookup(tag: int) -> TagInfo | None:
    """The dictionary row for ``tag``, or None for a tag EMV does not define."""
    return TAGS.get(tag)


def format_of(tag: int) -> Format | None:
    """The format of ``tag`` (for DOL padding), or None when unknown."""
    info = TAGS.get(tag)
    return info.format if info is not None else None


_SOURCE_NAMES = {Source.ICC: "ICC", Source.TERMINAL: "terminal", Source.ISSUER: "issuer"}


def _source_text(source: Source) -> str:
    return "/".join(name for flag, name in _SOURCE_NAMES.items() if flag in source)


def _length_text(info: TagInfo) -> str:
    if info.min_length == info.max_length:
        unit = "byte" if info.min_length == 1 else "bytes"
        return f"{info.min_length} {unit}"
    return f"{info.min_length}-{info.max_length} bytes"


def describe(tag: int) -> str:
    """A line for humans: ``9F02 Amount, Authorised (Numeric) n 12, 6 bytes, terminal``."""
    info = TAGS.get(tag)
    if info is None:
        return f"{tag:02X} (not in the EMV data dictionary)"
    return f"{tag:02X} {info.name} {info.spec}, {_length_text(info)}, {_source_text(info.source)}"


# ---------------------------------------------------------------- display


def _digits(value: bytes) -> str:
    return value.hex().upper()


def mask_digits(digits: str) -> str:
    """First 6 and last 4 kept, the rest starred (PCI DSS display rule)."""
    if len(digits) <= 10:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def _text(value: bytes) -> str:
    return value.decode("latin-1").translate(_PRINTABLE)


_PRINTABLE = {c: "." for c in range(256) if not 0x20 <= c < 0x7F}


def _date(value: bytes) -> str:
    text = _digits(value)
    if len(text) != 6 or not text.isdigit():
        return text
    return f"20{text[0:2]}-{text[2:4]}-{text[4:6]}"


def _time(value: bytes) -> str:
    text = _digits(value)
    if len(text) != 6 or not text.isdigit():
        return text
    return f"{text[0:2]}:{text[2:4]}:{text[4:6]}"


def _track2(value: bytes, mask: bool) -> str:
    text = _digits(value).rstrip("F")
    if not mask:
        return text
    pan, separator, rest = text.partition("D")
    if not separator:
        return mask_digits(text)
    return f"{mask_digits(pan)}D{'*' * len(rest)}"


def _afl(value: bytes) -> str:
    # EMV 4.4 Book 3, 10.2: four bytes per entry: SFI<<3, first, last, ODA count.
    if len(value) % 4:
        return _digits(value)
    parts = []
    for i in range(0, len(value), 4):
        sfi, first, last, oda = value[i] >> 3, value[i + 1], value[i + 2], value[i + 3]
        parts.append(f"SFI {sfi} records {first}-{last} ({oda} for ODA)")
    return "; ".join(parts)


def _bits(tag: int, value: bytes, cls: type[bits.ByteFlag] | None = None) -> str:
    field = cls or bits.FLAG_FIELDS[tag]
    if len(value) != field.size():
        return _digits(value)
    names = field.from_bytes(value).names()
    return f"{_digits(value)}: {', '.join(names) if names else 'none set'}"


def _dol(value: bytes) -> str:
    from emv import dol  # emv.dol imports this module for formats

    try:
        entries = dol.parse(value)
    except dol.DolError:
        return _digits(value)
    return " ".join(f"{entry.tag:02X}({entry.length})" for entry in entries)


def format_value(tag: int, value: bytes, *, mask: bool = True) -> str:
    """Render a primitive value for people: digits, text, dates, spelled-out bits.

    PAN and track data are masked to first 6 / last 4 digits unless ``mask`` is
    False; discretionary track data and PIN data are starred entirely.
    """
    info = TAGS.get(tag)
    if info is None:
        return _digits(value)
    kind = info.kind
    fmt = info.format
    if kind == "pan":
        text = _digits(value).rstrip("F")
        return mask_digits(text) if mask else text
    if kind == "track2":
        return _track2(value, mask)
    if kind == "secret":
        return f"<{len(value)} bytes hidden>" if mask else _digits(value)
    if kind == "date":
        return _date(value)
    if kind == "time":
        return _time(value)
    if kind == "amount":
        text = _digits(value)
        return str(int(text)) if text.isdigit() else text
    if kind == "uint":
        return str(int.from_bytes(value, "big"))
    if kind == "bits":
        return _bits(tag, value)
    if kind == "bits_tvr":
        return _bits(tag, value, bits.TVR)
    if kind == "cvm_results" and len(value) == 3:
        return f"{_digits(value)}: {bits.CvmResults.from_bytes(value).describe()}"
    if kind == "cvm_list":
        try:
            cvm = bits.CvmList.from_bytes(value)
        except bits.FieldLengthError:
            return _digits(value)
        rules = "; ".join(rule.describe() for rule in cvm.rules)
        return f"X={cvm.amount_x} Y={cvm.amount_y}: {rules}"
    if kind == "dol":
        return _dol(value)
    if kind == "afl":
        return _afl(value)
    if kind == "name" and value and all(0x20 <= c < 0x7F for c in value):
        return f"{_digits(value)} ({_text(value)})"  # 1PAY.SYS.DDF01 reads better
    if kind == "text" or fmt in (Format.A, Format.AN, Format.ANS):
        return _text(value)
    if fmt is Format.N:
        return _digits(value)
    if fmt is Format.CN:
        return _digits(value).rstrip("F")
    return _digits(value)
