"""Contactless: Entry Point (EMV Contactless Book B) and Kernels 2 (Book C-2, M/Chip
EMV mode) and 3 (Book C-3, qVSDC). Pure, like the contact kernel.

The terminal calls :func:`run_contactless` (or :func:`run_contactless_context`);
see docs/contactless.md.
"""

from emv.contactless.config import Combination, ContactlessConfig, ContactlessConfigError, KernelId
from emv.contactless.entry_point import new_context, run_contactless, run_contactless_context
from emv.contactless.outcome import (
    AlternateInterface,
    ContactlessResult,
    Cvm,
    OutcomeKind,
    OutcomeParameters,
    Start,
    UiMessage,
    UiRequest,
)

__all__ = [
    "AlternateInterface",
    "Combination",
    "ContactlessConfig",
    "ContactlessConfigError",
    "ContactlessResult",
    "Cvm",
    "KernelId",
    "OutcomeKind",
    "OutcomeParameters",
    "Start",
    "UiMessage",
    "UiRequest",
    "new_context",
    "run_contactless",
    "run_contactless_context",
]
