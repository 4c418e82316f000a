"""Built-in defaults shipped with the firmware: AID table, test CA public keys."""
