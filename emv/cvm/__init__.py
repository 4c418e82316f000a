"""Cardholder verification (EMV 4.4 Book 3 10.5 and Annex C3, Book 4 6.3.4).

Kernel hook: :func:`perform` (step 6). Pure pieces: :func:`parse_cvm_list`,
:func:`evaluate_condition`, :data:`~emv.cvm.rules.METHODS`.
"""

from emv.cvm.pin import RandomSource
from emv.cvm.rules import CvmFacts, MethodKind, evaluate_condition, method_of, parse_cvm_list
from emv.cvm.step import facts, perform

__all__ = [
    "CvmFacts",
    "MethodKind",
    "RandomSource",
    "evaluate_condition",
    "facts",
    "method_of",
    "parse_cvm_list",
    "perform",
]
