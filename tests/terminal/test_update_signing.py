"""terminal.update.signing: Ed25519 through the very functions the bundle verifier uses."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.update import signing
from terminal.update.errors import UpdateUsageError
from tests.terminal.update_support import DEV_PRIVATE, dev_key, fresh_key, write_pem

# RFC 8032 (Edwards-Curve Digital Signature Algorithm), section 7.1 "Test Vectors for
# Ed25519", TEST 1, TEST 2 and TEST 3: (secret key, public key, message, signature).
RFC8032_7_1 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_7_1)
def test_rfc8032_vectors_verify_and_sign(
    secret: str, public: str, message: str, signature: str
) -> None:
    """RFC 8032 section 7.1 TEST 1-3: verify_signature (the bundle verifier's path)
    accepts the published signature, sign() reproduces it, and one flipped bit fails."""
    key = signing.public_key_from_raw(bytes.fromhex(public))
    msg, sig = bytes.fromhex(message), bytes.fromhex(signature)
    assert signing.verify_signature(key, msg, sig)
    private = signing.private_key_from_seed(bytes.fromhex(secret))
    assert signing.raw_public(private).hex() == public
    assert signing.sign(private, msg) == sig
    for position in (0, 31, 32, 63):
        bad = bytearray(sig)
        bad[position] ^= 0x01
        assert not signing.verify_signature(key, msg, bytes(bad))
    assert not signing.verify_signature(key, msg + b"\x00", sig)
    assert not signing.verify_signature(key, msg, sig[:63])


def test_pinned_key_is_the_development_key() -> None:
    """The repository pins the dev key, so a dev-signed bundle verifies out of the box."""
    assert signing.fingerprint(signing.pinned_public_key()) == signing.fingerprint(dev_key())


def test_pinned_key_file_holds_no_private_key() -> None:
    pem = Path(signing.__file__).parents[1] / "data" / signing.PINNED_KEY_RESOURCE
    assert "PRIVATE" not in pem.read_text()
    assert "PRIVATE KEY" in DEV_PRIVATE.read_text()


def test_key_files_round_trip(tmp_path: Path) -> None:
    key = fresh_key()
    public = signing.load_public_key(write_pem(key, tmp_path / "pub.pem", private=False))
    private = signing.load_private_key(write_pem(key, tmp_path / "priv.pem", private=True))
    assert signing.fingerprint(public) == signing.fingerprint(private)
    assert signing.verify_signature(public, b"m", signing.sign(private, b"m"))
    der = tmp_path / "pub.der"
    der.write_bytes(key.public_key().export_key(format="DER"))
    assert signing.fingerprint(signing.load_public_key(der)) == signing.fingerprint(key)


@pytest.mark.parametrize(
    ("content", "loader", "message"),
    [
        (None, signing.load_public_key, "cannot read key file"),
        ("not a key\n", signing.load_public_key, "not an Ed25519 key"),
        (b"\xff\xfe", signing.load_private_key, "not an Ed25519 key"),
        (b"\x30\x03\x02\x01\x00", signing.load_private_key, "not an Ed25519 key"),
        ("private", signing.load_public_key, "is a private key"),
        ("public", signing.load_private_key, "holds no private key"),
        ("p256", signing.load_public_key, "not Ed25519"),
    ],
)
def test_bad_key_files_are_usage_errors(
    tmp_path: Path, content: object, loader: object, message: str
) -> None:
    from Crypto.PublicKey import ECC

    path = tmp_path / "key.pem"
    if content == "private":
        write_pem(fresh_key(), path, private=True)
    elif content == "public":
        write_pem(fresh_key(), path, private=False)
    elif content == "p256":
        path.write_text(ECC.generate(curve="P-256").public_key().export_key(format="PEM"))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    with pytest.raises(UpdateUsageError, match=message):
        loader(path)  # type: ignore[operator]


def test_signing_key_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--signing-key beats $POSTERM_SIGNING_KEY beats the checkout's dev key."""
    given, env = fresh_key(), fresh_key()
    given_file = write_pem(given, tmp_path / "given.pem", private=True)
    env_file = write_pem(env, tmp_path / "env.pem", private=True)
    root = Path(__file__).parents[2]
    monkeypatch.setenv(signing.ENV_SIGNING_KEY, str(env_file))
    key, dev = signing.resolve_signing_key(str(given_file), [root])
    assert (signing.fingerprint(key), dev) == (signing.fingerprint(given), False)
    key, dev = signing.resolve_signing_key(None, [tmp_path, root])
    assert (signing.fingerprint(key), dev) == (signing.fingerprint(env), False)
    monkeypatch.delenv(signing.ENV_SIGNING_KEY)
    key, dev = signing.resolve_signing_key(None, [tmp_path, root])
    assert (signing.fingerprint(key), dev) == (signing.fingerprint(dev_key()), True)
    with pytest.raises(UpdateUsageError, match="no signing key"):
        signing.resolve_signing_key(None, [tmp_path])


def test_non_canonical_s_is_refused() -> None:
    """RFC 8032 5.1.7 step 1: a signature whose S is not below the group order L is
    invalid. S + L would otherwise verify too (a malleable second encoding); built from
    RFC 8032 section 7.1 TEST 1."""
    order = 2**252 + 27742317777372353535851937790883648493  # RFC 8032 5.1, L
    _, public, _, signature = RFC8032_7_1[0]
    key = signing.public_key_from_raw(bytes.fromhex(public))
    sig = bytes.fromhex(signature)
    s = int.from_bytes(sig[32:], "little")
    assert signing.verify_signature(key, b"", sig)
    assert not signing.verify_signature(key, b"", sig[:32] + (s + order).to_bytes(32, "little"))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=60).map(lambda b: b"\x30" + b)))
def test_key_import_of_junk_is_a_usage_error(junk: bytes) -> None:
    """Whatever a --pubkey file holds, the outcome is a key or UpdateUsageError (exit 2)."""
    with contextlib.suppress(UpdateUsageError):
        signing.import_public_pem(junk, "junk")
