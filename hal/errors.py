"""The one exception root of the hal package."""


class HalError(Exception):
    """Root of every error raised by a hal/ driver; says which device and what failed."""


class PrinterError(HalError):
    """A printer could not be opened or written (which device, what failed)."""
