"""Offline data authentication (EMV 4.4 Book 2 sections 5-7, Book 3 10.3).

Kernel hooks: :func:`perform` (step 4), :func:`cda_request_wanted` and
:func:`verify_cda` (GENERATE AC), :func:`pin_encipherment_key` (offline
enciphered PIN). Pure checks live in :mod:`emv.oda.certificates`,
:mod:`emv.oda.signatures` and :mod:`emv.oda.pin_encipherment`.
"""

from emv.oda.certificates import find_ca_key, recover_icc_key, recover_issuer_key
from emv.oda.pin_encipherment import encipher_pin_block
from emv.oda.results import KeyResult, OdaFailure, PublicKey
from emv.oda.signatures import verify_cda_signature, verify_dda, verify_sda
from emv.oda.step import (
    cda_request_wanted,
    check_cda,
    icc_key,
    perform,
    pin_encipherment_key,
    select_method,
    verify_cda,
)

__all__ = [
    "KeyResult",
    "OdaFailure",
    "PublicKey",
    "cda_request_wanted",
    "check_cda",
    "encipher_pin_block",
    "find_ca_key",
    "icc_key",
    "perform",
    "pin_encipherment_key",
    "recover_icc_key",
    "recover_issuer_key",
    "select_method",
    "verify_cda",
    "verify_cda_signature",
    "verify_dda",
    "verify_sda",
]
