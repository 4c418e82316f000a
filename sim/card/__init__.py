"""Virtual EMV cards with real cryptography, driven by TOML profiles.

Public API::

    profile = load_profile("visa-cda")          # or a path to a .toml
    card = VirtualCard(profile, faults=Faults(pull_after=5))
    card.transmit(apdu)                          # in-process CardTransport
    sim.vpcd.serve(card)                         # or behind pcscd via vpcd
    profile.issuer_keys                          # what a host sim verifies ARQCs with
    list_profiles()
"""

from sim.card.card import CardPulledError, VirtualCard
from sim.card.cryptogram import IssuerKeys
from sim.card.faults import Faults
from sim.card.profile import Application, CardProfile, ProfileError, list_profiles, load_profile

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
