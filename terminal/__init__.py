"""The firmware: state machine, flows, journal, host messaging, settlement, receipts, CLI."""
