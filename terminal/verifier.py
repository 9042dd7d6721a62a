"""Decide who a card read belongs to, and whether to believe it.

Pure: no I/O, no Kivy, no SQLite. :func:`identify` takes a
:class:`~terminal.readers.base.CardRead` and a :class:`CardDirectory` (the
offline store implements it) and returns an :class:`Identification`, or raises
:class:`~clubcore.errors.CardRejectedError` whose ``reason`` is one of
:class:`RejectReason` and whose message a cashier understands.

How each medium is judged:

==========================  ==============================================  ============
read                        checks                                          strength
==========================  ==============================================  ============
a failed read (``error``)   none: refused as ``unreadable`` with the cause  -
NFC / contact with NDEF     club record, key id known, Ed25519 signature    ``signed``
                            over the UID read, the chip's originality
                            (signed NTAGs, when the club set keys), serial
                            and UID not revoked, not expired; member looked
                            up (a member not in the cache yet is accepted,
                            flagged)
chip without a club record  UID not revoked, UID registered to a member    ``uid-only``
                            as a UID-only card (the UID of a signed card
                            is refused as a copy, never a downgrade)
QR text (``CT1:``)          as NDEF, with UID ``b""``                       ``signed``
magstripe track 2           not expired, member in the cache                ``unverified``
member number / phone       member in the cache                             ``unverified``
==========================  ==============================================  ============

Chip originality (:mod:`clubcore.originality`): when the club configured
manufacturer keys (``cards.originality_keys``), a signed Type 2 card (an
NTAG21x) must show a READ_SIG signature over its UID that one of them
verifies, or it is refused as ``copied`` (a magic chip carrying a copied UID
and record). A read without a signature (the reader or the chip could not
give one) is accepted with ``chip_original=False`` unless
``cards.require_originality`` is set, when it is refused as ``copied`` too.

Checks run in the order of the table, so a revoked card that has also expired
is reported as revoked. Besides its strength, an identification says how
the member was identified (``method``, recorded on the sale as its
``id_method``): ``card`` (signed chip or contact card), ``card-uid``, ``qr``
(the signed text form, scanned), ``magstripe``, ``number`` or ``phone``, the
one vocabulary of :class:`clubcore.identity.IdMethod`.

:class:`Debouncer` drops repeat reads of a card that stays on the reader;
the app keeps exactly one, in :class:`terminal.ui.session.UISession` on its
worker thread, which every reader event goes through.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from clubcore.cardformat import (
    SignedCard,
    club_record_payload,
    decode_payload,
    verify_signature,
)
from clubcore.errors import CardRejectedError, ConfigError, FormatError
from clubcore.identity import IdMethod
from clubcore.member import MemberSummary, UidCard
from clubcore.originality import OriginalityPolicy, verify_originality
from terminal.entry import (
    MagstripeEntry,
    PhoneEntry,
    SignedCardEntry,
    parse_entry,
)
from terminal.readers.base import CardKind, CardRead

__all__ = [
    "REASON_TEXT",
    "CardDirectory",
    "Debouncer",
    "Identification",
    "MemberSummary",
    "RejectReason",
    "Strength",
    "identify",
    "reject",
]


class RejectReason(enum.StrEnum):
    """Why a card was refused; the ``reason`` of a :class:`CardRejectedError`."""

    UNREADABLE = "unreadable"
    NOT_CLUB_CARD = "not-club-card"
    FORGED = "forged"
    UNKNOWN_KEY = "unknown-key"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN_MEMBER = "unknown-member"
    COPIED = "copied"


#: The cashier's message and hint for each reason (English; the UI translates).
REASON_TEXT: dict[RejectReason, tuple[str, str]] = {
    RejectReason.UNREADABLE: (
        "Card could not be read - tap again",
        "Hold the card flat on the reader until it beeps",
    ),
    RejectReason.NOT_CLUB_CARD: (
        "This is not a club card",
        "Ask for the club card, or type the member number or phone",
    ),
    RejectReason.FORGED: (
        "Card is not genuine - do not accept it",
        "Sell at list price; the card may be a copy. Tell the manager",
    ),
    RejectReason.UNKNOWN_KEY: (
        "Card is signed with a key this terminal does not know",
        "Sync the terminal and tap again, or type the member number",
    ),
    RejectReason.EXPIRED: (
        "Card has expired",
        "Ask the member to renew it; type the member number for today",
    ),
    RejectReason.REVOKED: (
        "Card is cancelled (lost, stolen or replaced)",
        "Do not accept it; ask for the member's new card or phone",
    ),
    RejectReason.UNKNOWN_MEMBER: (
        "Member not found",
        "Check the number and try again, or enrol the customer",
    ),
    RejectReason.COPIED: (
        "Card is a copy - do not accept it",
        "The chip shows a club card's number but not the club's signature. Keep the card "
        "and tell the manager",
    ),
}


class Strength(enum.StrEnum):
    """How much an identification can be trusted (policy may limit redemption)."""

    SIGNED = "signed"  # a club signature checked offline
    UID_ONLY = "uid-only"  # a chip UID mapped in the cache; cloneable
    UNVERIFIED = "unverified"  # typed or scanned number, phone or magstripe


class CardDirectory(Protocol):
    """What the verifier asks the local store. Lookups must be fast (indexed)."""

    def public_key(self, key_id: int) -> bytes | None:
        """The club's 32-byte Ed25519 public key with this id, or None if unknown."""

    def is_revoked(self, serial: int) -> bool:
        """True if the card serial is on the denylist."""

    def is_uid_revoked(self, uid: bytes) -> bool:
        """True if the chip UID is on the denylist (lost UID-only cards, clones)."""

    def member(self, member_no: str) -> MemberSummary | None:
        """The member with this canonical number, or None if not in the cache."""

    def card_for_uid(self, uid: bytes) -> UidCard | None:
        """The card registered under this chip UID, or None.

        When a signed card and a UID-only card share the UID, the signed one.
        """

    def originality_policy(self) -> OriginalityPolicy:
        """The club's chip originality keys and whether a signature is required."""

    def member_for_phone(self, e164: str) -> str | None:
        """The member number for a mobile number, or None.

        The store keeps only :func:`clubcore.identity.phone_lookup_key` hashes and
        looks this one up by hashing ``e164`` with the club's salt.
        """


@dataclass(frozen=True, slots=True)
class Identification:
    """A member identified from a card read.

    Attributes:
        member_no: canonical member number.
        member: the cached member, or None when ``flagged_unsynced``.
        strength: how far the identity can be trusted.
        method: how the member was identified (the sale's ``id_method``).
        flagged_unsynced: a validly signed card whose member is not cached yet;
            price at the base tier and let the server reconcile.
        serial: the card serial (signed cards only).
        source: the reader path the read came from.
        kind: the medium.
        chip_original: for a signed NTAG when the club checks originality:
            True when the chip's originality signature verified, False when
            none could be read (accepted by policy: weaker); None when not
            checked (no keys configured, or not a chip of that kind).
    """

    member_no: str
    member: MemberSummary | None
    strength: Strength
    method: IdMethod
    flagged_unsynced: bool
    serial: int | None
    source: str
    kind: CardKind
    chip_original: bool | None = None


#: media whose signature must bind the chip UID (contact cards may have none)
_CHIP_KINDS = frozenset({CardKind.NFC_TYPE2, CardKind.NFC_TYPE3, CardKind.NFC_TYPE4})


def reject(reason: RejectReason, detail: str | None = None) -> CardRejectedError:
    """Build the error for a refused card.

    Arguments:
        reason: why.
        detail: what exactly happened, put before the standard hint.

    Returns:
        The error to raise; its ``reason`` is ``str(reason)``.
    """
    message, hint = REASON_TEXT[reason]
    return CardRejectedError(str(reason), message, hint=f"{detail}. {hint}" if detail else hint)


def identify(read: CardRead, directory: CardDirectory, *, today: date) -> Identification:
    """Identify the member behind a card read, or refuse the card.

    Arguments:
        read: the event from a reader.
        directory: keys, denylist and members (the offline store).
        today: the local date; a card is valid through the end of its expiry day.

    Returns:
        The identification.

    Raises:
        CardRejectedError: ``reason`` is a :class:`RejectReason` value.
    """
    if read.error is not None:  # a present card whose read failed: never a UID-only read
        raise reject(RejectReason.UNREADABLE, read.error[:1].upper() + read.error[1:])
    if read.kind in (CardKind.WEDGE, CardKind.MANUAL):
        return _identify_text(read, directory, today)
    if read.ndef is not None:
        try:
            payload = club_record_payload(read.ndef)
        except FormatError as exc:
            raise reject(RejectReason.UNREADABLE) from exc
        if payload is not None:
            card = _decode(payload)
            if not read.uid and read.kind in _CHIP_KINDS:
                raise reject(RejectReason.UNREADABLE, "The reader did not report the chip UID")
            return _identify_signed(read, card, read.uid or b"", directory, today, IdMethod.CARD)
    if read.uid:
        return _identify_uid(read, read.uid, directory)
    raise reject(RejectReason.NOT_CLUB_CARD if read.ndef is not None else RejectReason.UNREADABLE)


def _decode(payload: bytes) -> SignedCard:
    try:
        return decode_payload(payload)
    except FormatError as exc:
        raise reject(
            RejectReason.UNREADABLE,
            "If this repeats, the card is damaged or newer than this terminal",
        ) from exc


def _identify_signed(
    read: CardRead,
    card: SignedCard,
    uid: bytes,
    directory: CardDirectory,
    today: date,
    method: IdMethod,
) -> Identification:
    key = directory.public_key(card.fields.key_id)
    if key is None:
        raise reject(RejectReason.UNKNOWN_KEY)
    try:
        genuine = verify_signature(card, uid, key)
    except FormatError as exc:  # a corrupt key in the store: treat as unknown
        raise reject(RejectReason.UNKNOWN_KEY, "The stored key is damaged; resync") from exc
    if not genuine:
        raise reject(RejectReason.FORGED)
    chip_original = _check_originality(read, uid, directory) if uid else None
    if directory.is_revoked(card.fields.serial) or (uid and directory.is_uid_revoked(uid)):
        raise reject(RejectReason.REVOKED)
    if today > card.fields.expiry:
        raise reject(RejectReason.EXPIRED, f"Expired on {card.fields.expiry.isoformat()}")
    member = directory.member(card.member_no)
    return Identification(
        member_no=card.member_no,
        member=member,
        strength=Strength.SIGNED,
        method=method,
        flagged_unsynced=member is None,
        serial=card.fields.serial,
        source=read.source,
        kind=read.kind,
        chip_original=chip_original,
    )


def _check_originality(read: CardRead, uid: bytes, directory: CardDirectory) -> bool | None:
    """Check a signed NTAG's originality signature; see the module docstring.

    Returns:
        True (verified), False (none offered, accepted), None (not checked).

    Raises:
        CardRejectedError: ``copied``: the signature does not verify, or none
            was offered and the club requires one.
    """
    if read.kind is not CardKind.NFC_TYPE2:
        return None
    try:
        policy = directory.originality_policy()
        if not policy.enabled:
            return None
        if read.chip_signature is None:
            if policy.required:
                raise reject(
                    RejectReason.COPIED,
                    "The chip gave no originality signature, and this club requires one "
                    "(tap it on a reader that can read it)",
                )
            return False
        original = verify_originality(uid, read.chip_signature, policy.keys)
    except (ConfigError, FormatError) as exc:  # the club's keys, never the card's fault
        raise reject(
            RejectReason.UNREADABLE, "The club's chip originality keys are damaged; resync"
        ) from exc
    if not original:
        raise reject(
            RejectReason.COPIED,
            f"The chip is not an original: its originality signature does not match "
            f"its UID {uid.hex().upper()}",
        )
    return True


def _identify_uid(read: CardRead, uid: bytes, directory: CardDirectory) -> Identification:
    if directory.is_uid_revoked(uid):
        raise reject(RejectReason.REVOKED)
    card = directory.card_for_uid(uid)
    if card is None:
        if read.kind is CardKind.UID_ONLY:
            raise reject(RejectReason.UNKNOWN_MEMBER, "This card is not registered to a member")
        raise reject(RejectReason.NOT_CLUB_CARD)
    if not card.uid_only:
        raise reject(RejectReason.COPIED, f"Chip UID {uid.hex().upper()}")
    return _unsigned(read, card.member_no, Strength.UID_ONLY, IdMethod.CARD_UID, directory)


def _identify_text(read: CardRead, directory: CardDirectory, today: date) -> Identification:
    try:
        entry = parse_entry(read.text or "")
    except FormatError as exc:
        detail = str(exc)
        raise CardRejectedError(
            str(RejectReason.UNREADABLE),
            "Not recognised - scan or type it again",
            hint=detail[:1].upper() + detail[1:],
        ) from exc
    if isinstance(entry, SignedCardEntry):
        return _identify_signed(read, entry.card, b"", directory, today, IdMethod.QR)
    if isinstance(entry, PhoneEntry):
        member_no = directory.member_for_phone(entry.e164)
        if member_no is None:
            raise reject(RejectReason.UNKNOWN_MEMBER, "No member has this mobile number")
        return _unsigned(read, member_no, Strength.UNVERIFIED, IdMethod.PHONE, directory)
    if isinstance(entry, MagstripeEntry):
        if today > entry.expiry:
            raise reject(RejectReason.EXPIRED, f"Expired at the end of {entry.expiry:%Y-%m}")
        return _unsigned(read, entry.member_no, Strength.UNVERIFIED, IdMethod.MAGSTRIPE, directory)
    return _unsigned(read, entry.member_no, Strength.UNVERIFIED, IdMethod.NUMBER, directory)


def _unsigned(
    read: CardRead, member_no: str, strength: Strength, method: IdMethod, directory: CardDirectory
) -> Identification:
    member = directory.member(member_no)
    if member is None:
        raise reject(RejectReason.UNKNOWN_MEMBER)
    return Identification(
        member_no=member_no,
        member=member,
        strength=strength,
        method=method,
        flagged_unsynced=False,
        serial=None,
        source=read.source,
        kind=read.kind,
    )


class Debouncer:
    """Drops repeat reads of the same card within a window.

    Two reads are the same card when their UID, NDEF bytes and text are equal.
    The window slides: a card left on a reader that keeps re-reading it stays
    quiet until it has been away for ``window`` seconds. Not thread-safe;
    call it from the one thread that consumes reader events.
    """

    def __init__(self, window: float = 2.0) -> None:
        """Create a debouncer; ``window`` is in seconds of ``CardRead.monotonic``."""
        self.window = window
        self._last_seen: dict[tuple[bytes | None, bytes | None, str | None], float] = {}

    def accept(self, read: CardRead) -> bool:
        """Record a read and say whether to process it.

        Arguments:
            read: the event.

        Returns:
            False if the same card was seen less than ``window`` seconds ago.
        """
        now = read.monotonic
        self._last_seen = {
            key: seen for key, seen in self._last_seen.items() if abs(now - seen) < self.window
        }
        key = (read.uid, read.ndef, read.text)
        repeat = key in self._last_seen
        self._last_seen[key] = now
        return not repeat
