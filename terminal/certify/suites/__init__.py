"""Built-in certification suites (TOML data shipped with the wheel)."""
