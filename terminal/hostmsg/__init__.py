"""Host messaging: host-spec.md on the wire (ISO 8583 via pyiso8583, DE 48/90, MAC,
framing, response validation). See docs/terminal-core.md for the API the flows use."""

from terminal.hostmsg.builders import (
    Acceptor,
    amount12,
    batch_upload,
    datetime10,
    financial_request,
    local_datetime,
    network_management,
    reconciliation,
    reversal,
)
from terminal.hostmsg.client import (
    HostClient,
    HostClientSettings,
    NoValidResponse,
    Outcome,
    Response,
    validate,
)
from terminal.hostmsg.keysource import (
    DukptSession,
    KeySession,
    KeySource,
    MemoryKeySource,
    OriginatorKeySource,
)
from terminal.hostmsg.message import Message, MessageError, decode, encode, pack, verify_mac

__all__ = [
    "Acceptor",
    "DukptSession",
    "HostClient",
    "HostClientSettings",
    "KeySession",
    "KeySource",
    "MemoryKeySource",
    "Message",
    "MessageError",
    "NoValidResponse",
    "OriginatorKeySource",
    "Outcome",
    "Response",
    "amount12",
    "batch_upload",
    "datetime10",
    "decode",
    "encode",
    "financial_request",
    "local_datetime",
    "network_management",
    "pack",
    "reconciliation",
    "reversal",
    "validate",
    "verify_mac",
]
