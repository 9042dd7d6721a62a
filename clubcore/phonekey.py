"""The salted phone lookup key that server and terminals share.

The club never sends phone numbers to a lane; members are found by
``sha256(salt + E.164)``, with the club's salt (the ``phone_salt`` setting).
"""

from __future__ import annotations

import hashlib

__all__ = ["e164_lookup_key"]


def e164_lookup_key(e164: str, salt: bytes) -> str:
    """``sha256(salt + E.164 as ASCII)`` in lowercase hex, for a number already in E.164 form.

    Raises:
        UnicodeEncodeError: ``e164`` is not ASCII.
    """
    return hashlib.sha256(salt + e164.encode("ascii")).hexdigest()
