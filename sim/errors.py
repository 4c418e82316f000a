"""The one exception root of the sim package."""


class SimError(Exception):
    """Root of every error raised by the simulator."""
