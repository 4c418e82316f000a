"""Acquirer host simulator: host-spec.md over TCP, with DUKPT, EMV issuer checks,
approval rules, a durable SQLite ledger and fault injection (issue 5)."""

from sim.host.device import open_device
from sim.host.errors import FieldError, FrameError, HostError, RulesError
from sim.host.faults import Fault, Faults
from sim.host.ledger import Ledger, Totals, Txn
from sim.host.rules import Rules, load_rules, rules_from_dict
from sim.host.server import HostSimulator

__all__ = [
    "Fault",
    "Faults",
    "FieldError",
    "FrameError",
    "HostError",
    "HostSimulator",
    "Ledger",
    "Rules",
    "RulesError",
    "Totals",
    "Txn",
    "load_rules",
    "open_device",
    "rules_from_dict",
]
