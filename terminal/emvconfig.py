"""Build the EMV kernel's configuration from the terminal's validated TOML config.

The kernel (``emv/``) cannot import ``terminal/``; this is the one place the two
vocabularies meet: hex/digit strings become the bytes the card sees, and the
exception file stays hashed (the kernel asks ``Config.on_exception_file``).
"""

from __future__ import annotations

import datetime as dt

from emv.config import AidEntry, CaPublicKey, KernelConfig, RevokedCertificate, TerminalData
from terminal.config import CaKey, Config, Merchant


def _expiry(key: CaKey) -> dt.date | None:
    if not key.expiry:
        return None
    text = key.expiry
    try:
        if len(text) == 8:
            return dt.datetime.strptime(text, "%Y%m%d").date()
        return dt.datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        return None


def terminal_data(config: Config, merchant: Merchant | None = None) -> TerminalData:
    settings = config.terminal
    chosen = merchant or config.merchant()
    return TerminalData(
        country_code=bytes.fromhex(settings.country_code),
        currency_code=bytes.fromhex(chosen.currency_code or settings.currency_code),
        currency_exponent=settings.currency_exponent,
        terminal_type=int(settings.terminal_type, 16),
        capabilities=settings.capabilities,
        additional_capabilities=settings.additional_capabilities,
        ifd_serial=settings.ifd_serial.encode("ascii"),
        merchant_name_location=chosen.name.encode("ascii", "replace")[:40],
        merchant_category_code=bytes.fromhex(settings.merchant_category_code),
        terminal_id=chosen.tid.encode("ascii"),
        merchant_id=chosen.mid.encode("ascii"),
    )


def kernel_config(
    config: Config,
    merchant: Merchant | None = None,
    *,
    pin_bypass_allowed: bool = True,
    fallback_allowed: bool = True,
) -> KernelConfig:
    """The :class:`emv.config.KernelConfig` for ``config`` (and a merchant profile)."""
    aids = tuple(
        AidEntry(
            aid=entry.aid,
            label=entry.label,
            partial_selection=entry.partial_selection,
            application_version=entry.app_version,
            tac_denial=entry.tac_denial,
            tac_online=entry.tac_online,
            tac_default=entry.tac_default,
            floor_limit=entry.floor_limit,
            random_threshold=entry.threshold,
            random_target_percent=entry.target_percent,
            random_max_target_percent=entry.max_target_percent,
            default_ddol=entry.default_ddol,
            default_tdol=entry.default_tdol,
        )
        for entry in config.aids
    )
    ca_keys = tuple(
        CaPublicKey(key.rid, key.index, key.modulus, key.exponent, _expiry(key))
        for key in config.ca_keys
    )
    revoked = frozenset(RevokedCertificate(r.rid, r.index, r.serial) for r in config.revoked)
    return KernelConfig(
        terminal=terminal_data(config, merchant),
        aids=aids,
        ca_keys=ca_keys,
        revoked=revoked,
        exception_lookup=config.on_exception_file,
        pin_bypass_allowed=pin_bypass_allowed,
        fallback_allowed=fallback_allowed,
    )
