"""The simulated world: virtual cards behind real pcscd, an acquirer host, devices.

Implements the same ports as hal/; production code (terminal/) never imports it.
"""
