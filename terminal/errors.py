"""The one exception root of the terminal package."""


class TerminalError(Exception):
    """Root of every error raised by terminal/; never carries a PIN, full PAN or key."""


class ConfigError(TerminalError):
    """The configuration broke a rule; names the key and the rule (CLI exit 2)."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(f"config {key}: {rule}")
        self.key = key
        self.rule = rule


class UsageError(TerminalError):
    """A command was called wrongly (CLI exit 2)."""
