"""Chip originality signatures: is this NTAG21x a chip its manufacturer made?

NXP programs every NTAG21x at production with a 32-byte ECDSA signature over
its 7-byte UID, made with NXP's private key on the curve secp128r1 (SEC 2),
readable with the command READ_SIG (``3C 00``). A "magic" chip whose UID can
be written cannot carry a valid signature over a UID it copied, unless it
also fakes READ_SIG with a signature copied from the original chip (see
``docs/card-format.md``, "Known limits").

The scheme (NXP AN11350), and exactly what this module does with ``ecdsa``:

- The message is the UID itself, **not hashed**: ECDSA's ``e`` is the UID
  read as a big-endian integer (56 bits, below the 128-bit group order, so no
  truncation applies). We call ``VerifyingKey.verify_digest(signature, uid,
  sigdecode=sigdecode_string)`` with the default ``allow_truncate=False``:
  ecdsa 0.19 then converts the "digest" with ``string_to_number`` (big-endian)
  and checks only that it is not longer than the curve's 16 bytes, which is
  exactly NXP's ``e``. ``verify`` (not ``verify_digest``) would hash the UID
  first and never match.
- The signature is ``r || s``, 16 bytes each, big-endian: ecdsa's raw
  encoding, decoded by ``sigdecode_string`` (which refuses any other length
  and ``verifies`` refuses r or s outside ``1..n-1``).
- A public key is an uncompressed (``04 || x || y``, 33 bytes) or compressed
  (``02``/``03 || x``, 17 bytes) SEC 1 point, or the raw ``x || y`` (32
  bytes); ``VerifyingKey.from_string`` checks that the point is on the curve.

The curve has 128-bit keys (about 64-bit security): it proves the chip came
from the maker's production, nothing more; the club's own Ed25519 signature
(``clubcore.cardformat``) is what makes the card the club's.

Pure: no I/O. The ``ecdsa`` package is used because ``cryptography`` does not
offer secp128r1.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import ecdsa
from ecdsa.errors import MalformedPointError
from ecdsa.keys import BadDigestError, BadSignatureError
from ecdsa.util import sigdecode_string

from clubcore.errors import FormatError

__all__ = [
    "READ_SIG",
    "SIGNATURE_SIZE",
    "OriginalityPolicy",
    "parse_public_key",
    "verify_originality",
]

#: the NTAG21x command that returns the originality signature (address byte 00)
READ_SIG = b"\x3c\x00"
#: r || s on secp128r1
SIGNATURE_SIZE = 32


@dataclass(frozen=True, slots=True)
class OriginalityPolicy:
    """What the club asks of chip originality signatures.

    Attributes:
        keys: the manufacturers' public keys (SEC 1 bytes); empty: no check.
        required: a signed NTAG that offers no signature (the reader or the
            chip cannot give one) is refused; otherwise it is accepted.
    """

    keys: tuple[bytes, ...] = ()
    required: bool = False

    @property
    def enabled(self) -> bool:
        """Whether signatures are checked at all (some key is configured)."""
        return bool(self.keys)


@functools.lru_cache(maxsize=16)
def _verifying_key(public_key: bytes) -> ecdsa.VerifyingKey:
    try:
        return ecdsa.VerifyingKey.from_string(public_key, curve=ecdsa.SECP128r1)
    except (MalformedPointError, ValueError) as exc:
        raise FormatError(f"not a secp128r1 public key ({len(public_key)} bytes)") from exc


def parse_public_key(public_key: bytes) -> bytes:
    """Check a manufacturer's public key.

    Arguments:
        public_key: a SEC 1 point on secp128r1 (33, 17 or 32 bytes; see the module docstring).

    Returns:
        The same bytes.

    Raises:
        FormatError: not a point on secp128r1.
    """
    _verifying_key(bytes(public_key))
    return bytes(public_key)


def verify_originality(uid: bytes, signature: bytes, keys: Sequence[bytes]) -> bool:
    """Whether ``signature`` is a manufacturer's originality signature over ``uid``.

    Arguments:
        uid: the chip UID as read (7 bytes for an NTAG21x).
        signature: what the chip answered to READ_SIG (32 bytes when genuine).
        keys: the manufacturers' public keys; one that verifies is enough.

    Returns:
        True when some key verifies it; False for any other signature (wrong
        length, all zeros, another UID's, another maker's).

    Raises:
        FormatError: a key is not a secp128r1 point (a configuration fault,
            never the card's).
    """
    if len(signature) != SIGNATURE_SIZE or not uid:
        return False
    for key in keys:
        verifying_key = _verifying_key(bytes(key))
        try:
            if verifying_key.verify_digest(
                bytes(signature), bytes(uid), sigdecode=sigdecode_string
            ):
                return True
        except (BadSignatureError, BadDigestError):
            continue
    return False
