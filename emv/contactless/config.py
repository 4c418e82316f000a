"""What the terminal configures for contactless: the AID + kernel combinations and
their limits (EMV Contactless Book B, 3.1 and Book A, 5.7)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from emv.config import AidEntry, KernelConfig
from emv.errors import EmvError


class KernelId(enum.IntEnum):
    """Book B, 3.3.2.5 Table 3-6: kernel identifiers this terminal has a kernel for."""

    MASTERCARD = 2  # Book C-2
    VISA = 3  # Book C-3


# Book B, 3.3.2.5: the default Kernel Identifier when a directory entry has no '9F2A'.
DEFAULT_KERNEL_BY_RID = {
    bytes.fromhex("A000000004"): 2,  # Mastercard
    bytes.fromhex("A000000003"): 3,  # Visa
    bytes.fromhex("A000000025"): 4,  # American Express
    bytes.fromhex("A000000065"): 5,  # JCB
    bytes.fromhex("A000000152"): 6,  # Discover
    bytes.fromhex("A000000333"): 7,  # UnionPay
}

# Book A, 5.7 Table 5-4: EMV mode, online PIN, signature supported; byte 3 b7 consumer
# device CVM supported; byte 4 b8 fDDA v1.0 supported (Book C-7 3.2.2 / C-3).
DEFAULT_TTQ = bytes.fromhex("26004080")
# Book C-2, Annex A: CVM Capability - CVM Required (online PIN, signature) and
# - No CVM Required ('no CVM'), used as 9F33 byte 2 either side of the CVM limit.
DEFAULT_CVM_REQUIRED_CAPABILITY = 0x60
DEFAULT_NO_CVM_CAPABILITY = 0x08


class ContactlessConfigError(EmvError):
    """A contactless configuration row breaks a rule (which one is named)."""


@dataclass(frozen=True, slots=True)
class Combination:
    """One Book B 'combination' (AID + kernel) with its pre-processing parameters.

    Limits are in minor units; ``None`` means the limit is not configured
    (Book B, 3.1.1: each check applies only when its limit is present).
    """

    aid: bytes
    kernel_id: int
    transaction_limit: int | None = None  # Reader Contactless Transaction Limit
    floor_limit: int | None = None  # Reader Contactless Floor Limit
    cvm_required_limit: int | None = None  # Reader CVM Required Limit
    status_check: bool = False  # Status Check Support flag
    zero_amount_allowed: bool = True  # Zero Amount Allowed flag
    ttq: bytes | None = None  # Terminal Transaction Qualifiers base for this combination
    partial_selection: bool = True  # a longer card ADF name matches (Book B, 3.3.2.5)
    cvm_required_capability: int = DEFAULT_CVM_REQUIRED_CAPABILITY  # C-2 only
    no_cvm_capability: int = DEFAULT_NO_CVM_CAPABILITY  # C-2 only
    on_device_cvm: bool = True  # C-2: Kernel Configuration 'on device CVM supported'
    aid_entry: AidEntry | None = None  # TACs for C-2; else looked up in the KernelConfig

    def __post_init__(self) -> None:
        if not 5 <= len(self.aid) <= 16:
            raise ContactlessConfigError("combination AID must be 5..16 bytes")
        if self.kernel_id not in tuple(KernelId):
            raise ContactlessConfigError(f"kernel {self.kernel_id} is not supported (2, 3)")
        if self.ttq is not None and len(self.ttq) != 4:
            raise ContactlessConfigError("TTQ must be 4 bytes")
        for name in ("transaction_limit", "floor_limit", "cvm_required_limit"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ContactlessConfigError(f"{name} must not be negative")

    def matches(self, adf_name: bytes) -> bool:
        return adf_name == self.aid or (self.partial_selection and adf_name.startswith(self.aid))


@dataclass(frozen=True, slots=True)
class ContactlessConfig:
    """Everything the contactless Entry Point and kernels need besides the transaction.

    ``kernel`` is the contact kernel's configuration (terminal data, CA keys,
    revocation list, exception file, AID rows with TACs), shared on purpose.
    """

    kernel: KernelConfig
    combinations: tuple[Combination, ...] = ()
    ttq: bytes = DEFAULT_TTQ
    max_restarts: int = 4  # bound on Select Next / Start C loops inside one call

    def __post_init__(self) -> None:
        if len(self.ttq) != 4:
            raise ContactlessConfigError("TTQ must be 4 bytes")
