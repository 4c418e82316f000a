"""Faults a virtual card can show on demand, from a profile's [faults] table or the API.

Command names used as keys: SELECT, READ_RECORD, GPO, GET_DATA, GENERATE_AC,
INTERNAL_AUTHENTICATE, GET_CHALLENGE, VERIFY, EXTERNAL_AUTHENTICATE, SCRIPT.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

COMMANDS = frozenset(
    {
        "SELECT",
        "READ_RECORD",
        "GPO",
        "GET_DATA",
        "GENERATE_AC",
        "INTERNAL_AUTHENTICATE",
        "GET_CHALLENGE",
        "VERIFY",
        "EXTERNAL_AUTHENTICATE",
        "SCRIPT",
    }
)
SIGNATURES = frozenset({"issuer_cert", "icc_cert", "ssad", "sdad"})


@dataclass(frozen=True, slots=True)
class Faults:
    """What should go wrong.

    ``status_words``: command -> SW returned instead of the real answer.
    ``malformed_tlv``: commands whose response TLV gets a length that overruns.
    ``missing_tags``: tags left out of the card image (missing mandatory data).
    ``pull_after``: the card is pulled when this many APDUs have been answered.
    ``bad_signatures``: certificates/signatures whose hash is corrupted.
    ``expired_certs`` / ``revoked_certs``: "issuer" and/or "icc".
    ``delay``: seconds slept before every response (a slow card);
    ``delays``: per-command extra seconds.
    """

    status_words: dict[str, int] = field(default_factory=dict)
    malformed_tlv: frozenset[str] = frozenset()
    missing_tags: frozenset[str] = frozenset()
    pull_after: int | None = None
    bad_signatures: frozenset[str] = frozenset()
    expired_certs: frozenset[str] = frozenset()
    revoked_certs: frozenset[str] = frozenset()
    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Faults:
        sws = {
            k.upper(): (int(v, 16) if isinstance(v, str) else int(v))
            for k, v in raw.get("status_words", {}).items()
        }
        return cls(
            status_words=sws,
            malformed_tlv=frozenset(c.upper() for c in raw.get("malformed_tlv", ())),
            missing_tags=frozenset(t.upper() for t in raw.get("missing_tags", ())),
            pull_after=raw.get("pull_after"),
            bad_signatures=frozenset(raw.get("bad_signatures", ())),
            expired_certs=frozenset(raw.get("expired_certs", ())),
            revoked_certs=frozenset(raw.get("revoked_certs", ())),
            delay=float(raw.get("delay", 0.0)),
            delays={k.upper(): float(v) for k, v in raw.get("delays", {}).items()},
        )

    def merged(self, other: Faults | None) -> Faults:
        """``other``'s settings over these (API faults over profile faults)."""
        if other is None:
            return self
        return replace(
            self,
            status_words={**self.status_words, **other.status_words},
            malformed_tlv=self.malformed_tlv | other.malformed_tlv,
            missing_tags=self.missing_tags | other.missing_tags,
            pull_after=other.pull_after if other.pull_after is not None else self.pull_after,
            bad_signatures=self.bad_signatures | other.bad_signatures,
            expired_certs=self.expired_certs | other.expired_certs,
            revoked_certs=self.revoked_certs | other.revoked_certs,
            delay=other.delay or self.delay,
            delays={**self.delays, **other.delays},
        )

    @property
    def changes_image(self) -> bool:
        """True when the card image (records, certificates) must be rebuilt."""
        return bool(
            self.missing_tags or self.bad_signatures or self.expired_certs or self.revoked_certs
        )
