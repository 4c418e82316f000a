"""Virtual EMV cards with real cryptography, driven by TOML profiles.

Public API::

    profile = load_profile("visa-cda")          # or a path to a .toml
    card = VirtualCard(profile, faults=Faults(pull_after=5))
    card.transmit(apdu)                          # in-process CardTransport
    sim.vpcd.serve(card)                         # or behind pcscd via vpcd
    profile.issuer_keys                          # what a host sim verifies ARQCs with
    list_profiles()

Names load lazily (PEP 562) so that registering the CLI does not import pyemv.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.card.card import CardPulledError, VirtualCard
    from sim.card.cryptogram import IssuerKeys
    from sim.card.faults import Faults
    from sim.card.profile import (
        Application,
        CardProfile,
        ProfileError,
        list_profiles,
        load_profile,
    )

_EXPORTS = {
    "Application": "sim.card.profile",
    "CardProfile": "sim.card.profile",
    "ProfileError": "sim.card.profile",
    "list_profiles": "sim.card.profile",
    "load_profile": "sim.card.profile",
    "CardPulledError": "sim.card.card",
    "VirtualCard": "sim.card.card",
    "Faults": "sim.card.faults",
    "IssuerKeys": "sim.card.cryptogram",
}

__all__ = [
    "Application",
    "CardProfile",
    "CardPulledError",
    "Faults",
    "IssuerKeys",
    "ProfileError",
    "VirtualCard",
    "list_profiles",
    "load_profile",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim.card' has no attribute {name!r}")
