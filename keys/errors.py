"""The one exception root of the keys package. Messages never carry key bytes or PINs."""


class KeysError(Exception):
    """Root of every error raised by keys/."""


class KeyLengthError(KeysError, ValueError):
    """A key, KSN or block has the wrong length; the message names which and the length."""


class DukptError(KeysError):
    """A DUKPT input or state is invalid (bad KSN, counter, state blob)."""


class DukptExhaustedError(DukptError):
    """The 21-bit (TDES) or 32-bit (AES) transaction counter has no usable value left.

    The device must be re-injected with a fresh initial key: ANSI X9.24-1:2009 A.2
    ("cease operation") and X9.24-3:2017 6.5.
    """


class PinBlockError(KeysError):
    """A PIN, PAN or PIN block is malformed. The message never holds the PIN or PAN."""


class MacError(KeysError):
    """A MAC could not be computed or did not verify."""


class Tr31Error(KeysError):
    """A TR-31 key block is malformed or fails its integrity check."""


class KeyUsageError(KeysError):
    """A key was asked to do something its usage or mode of use forbids (e.g. a PIN key MACing)."""


class KeyStoreError(KeysError):
    """The key store is unreadable, tampered with, locked or lacks a slot."""
