"""TLS 1.2+ for the host listener (host-spec "Transport": TCP optionally wrapped in TLS,
server certificate pinned by the terminal's config), stdlib ssl only.

The pin a terminal puts in ``[host] pin_sha256`` is the SHA-256 of the server
certificate in DER, the same value hal.hostlink compares after the handshake.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from pathlib import Path

from sim.host.errors import TlsError

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)
HANDSHAKE_SECONDS = 10.0  # a peer that connects and never handshakes is dropped


def server_context(cert: str | Path, key: str | Path | None = None) -> ssl.SSLContext:
    """A server context for ``cert`` (PEM, leaf first) and ``key`` (PEM; default: in
    ``cert``), refusing anything below TLS 1.2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key) if key is not None else None)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        where = f"{cert}" + (f" / {key}" if key is not None else "")
        raise TlsError(f"TLS certificate/key {where} unusable: {_reason(exc)}") from None
    return context


def certificate_pin(cert: str | Path) -> str:
    """Hex SHA-256 of the first (leaf) certificate of a PEM file, in DER."""
    try:
        text = Path(cert).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise TlsError(f"TLS certificate {cert} unreadable: {exc.strerror}") from None
    match = _PEM_CERT.search(text)
    if match is None:
        raise TlsError(f"TLS certificate {cert} holds no PEM certificate")
    try:
        der = ssl.PEM_cert_to_DER_cert(match.group(0))
    except ValueError:
        raise TlsError(f"TLS certificate {cert} is not valid PEM") from None
    return hashlib.sha256(der).hexdigest()


def _reason(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return getattr(exc, "strerror", None) or type(exc).__name__
