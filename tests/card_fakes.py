"""Test doubles for card checks: an in-memory card directory and a TEST chip maker key.

The chip maker key signs originality signatures (NTAG21x READ_SIG) the way
NXP does at production (:mod:`clubcore.originality`): ECDSA on secp128r1 over
the raw UID. It is **TEST ONLY**, made from a fixed small secret here; it is
not NXP's key, and tests never use NXP's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ecdsa
from ecdsa.util import sigencode_string

from clubcore.member import MemberSummary, UidCard
from clubcore.originality import OriginalityPolicy

__all__ = ["MAKER", "MAKER_PUBLIC_KEY", "OTHER_MAKER", "DictDirectory", "chip_signature"]

#: the TEST chip maker's signing key, and another maker's (a clone's forger)
MAKER = ecdsa.SigningKey.from_secret_exponent(0xC1B7E57, curve=ecdsa.SECP128r1)
OTHER_MAKER = ecdsa.SigningKey.from_secret_exponent(0xBAD5EED, curve=ecdsa.SECP128r1)
#: its public key as a club would configure it (uncompressed SEC 1, 33 bytes)
MAKER_PUBLIC_KEY: bytes = MAKER.get_verifying_key().to_string("uncompressed")


def chip_signature(uid: bytes, key: ecdsa.SigningKey = MAKER) -> bytes:
    """The 32-byte originality signature (r || s) ``key`` gives the chip ``uid``."""
    signature: bytes = key.sign_digest_deterministic(uid, sigencode=sigencode_string)
    return signature


@dataclass
class DictDirectory:
    """An in-memory CardDirectory (test double of the offline store)."""

    keys: dict[int, bytes] = field(default_factory=dict)
    revoked_serials: set[int] = field(default_factory=set)
    revoked_uids: set[bytes] = field(default_factory=set)
    members: dict[str, MemberSummary] = field(default_factory=dict)
    uid_map: dict[bytes, UidCard] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    originality: OriginalityPolicy = field(default_factory=OriginalityPolicy)

    def public_key(self, key_id: int) -> bytes | None:
        return self.keys.get(key_id)

    def is_revoked(self, serial: int) -> bool:
        return serial in self.revoked_serials

    def is_uid_revoked(self, uid: bytes) -> bool:
        return uid in self.revoked_uids

    def member(self, member_no: str) -> MemberSummary | None:
        return self.members.get(member_no)

    def card_for_uid(self, uid: bytes) -> UidCard | None:
        return self.uid_map.get(uid)

    def member_for_phone(self, e164: str) -> str | None:
        return self.phones.get(e164)

    def originality_policy(self) -> OriginalityPolicy:
        return self.originality
