"""EMV level-2 kernel: pure functions and dataclasses over bytes (no I/O, no clock)."""
