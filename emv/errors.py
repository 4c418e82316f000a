"""The one exception root of the emv package.

Expected business outcomes (decline, card removed, fallback) are returned values,
never raised; these exceptions mean the input broke a rule of the books.
"""


class EmvError(Exception):
    """Root of every error raised by emv/; carries context, never secrets."""
