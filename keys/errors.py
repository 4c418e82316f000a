"""The one exception root of the keys package. Messages never carry key bytes or PINs."""


class KeysError(Exception):
    """Root of every error raised by keys/."""
