"""Demo membership cards: one valid signed card per tier and one of each refusal.

Issued when the demo store is seeded. A fresh club key pair is made; the
terminal keeps only the public key (as a provisioned terminal would), the
private key is dropped once the demo cards are signed. The cards themselves
(UID, NDEF bytes, or QR text) are saved as JSON in the data directory so the
simulated reader, the CLI and the app can present them.

========================  ===========================================  ===============
label                     card                                         expected
========================  ===========================================  ===============
``basic`` .. ``vip``      NTAG215, signed, member of that tier         accepted
``qr-gold``               printed QR code of a gold member's card      accepted
``unsynced``              signed card for a member not in the cache    accepted, flagged
``uid-only``              MIFARE Classic whose UID is registered       accepted (weaker)
``expired``               signed card that expired 30 days ago         expired
``revoked``               signed card on the denylist                  revoked
``forged``                signed with another key under our key id     forged
``cloned``                a valid card's bytes on another chip         forged
``copied-uid``            a blank chip showing the basic card's UID    copied
``unknown-key``           signed under a key id the terminal lacks     unknown-key
``stranger``              a chip with no club data, not registered     unknown-member
========================  ===========================================  ===============
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clubcore.cardformat import (
    CardFields,
    encode_text,
    generate_private_key,
    issue_card,
    public_key_bytes,
    sign_card,
)
from clubcore.errors import ConfigError
from offline_store.cards import add_public_key, revoke_card
from terminal.readers.base import CardKind, CardRead

__all__ = ["DEMO_CARDS_FILE", "DEMO_KEY_ID", "DemoCard", "issue_demo_cards", "load", "save"]

DEMO_CARDS_FILE = "demo-cards.json"
DEMO_KEY_ID = 1
TIER_ORDER = ["basic", "silver", "gold", "platinum", "vip"]


@dataclass(frozen=True, slots=True)
class DemoCard:
    """A card the simulated reader can present."""

    label: str
    description: str
    kind: str
    expect: str  # "accepted" or a rejection reason
    uid: str | None = None  # hex
    ndef: str | None = None  # hex
    text: str | None = None
    member_no: str | None = None

    def as_read(self, source: str = "sim") -> CardRead:
        """The :class:`CardRead` a reader would deliver for this card."""
        return CardRead(
            source=source,
            kind=CardKind(self.kind),
            uid=bytes.fromhex(self.uid) if self.uid else None,
            ndef=bytes.fromhex(self.ndef) if self.ndef else None,
            text=self.text,
        )


def _uid(n: int) -> bytes:
    return bytes([0x04, 0xC1, 0x0B, 0x00, 0x00, 0x00, n])


def _first_member(db: sqlite_utils.Database, tier: str) -> str:
    row = db.execute(
        "SELECT member_no FROM members WHERE tier = ? ORDER BY member_no LIMIT 1", [tier]
    ).fetchone()
    if row is None:
        raise ConfigError("demo", f"the demo store has no {tier} member")
    return str(row[0])


def issue_demo_cards(
    db: sqlite_utils.Database,
    now: datetime,
    *,
    key: Ed25519PrivateKey | None = None,
    key_id: int = DEMO_KEY_ID,
) -> list[DemoCard]:
    """Issue the demo cards (one transaction).

    Arguments:
        key: the club's signing key whose public half this terminal already
            trusts (the embedded demo server's); None makes a new key and
            trusts it here.
        key_id: the id of ``key``.
    """
    today = now.date()
    forger = generate_private_key()
    valid_until = today + timedelta(days=730)
    cards: list[DemoCard] = []
    with db.atomic():
        if key is None:
            key = generate_private_key()
            add_public_key(db, key_id, public_key_bytes(key))
        for n, tier in enumerate(TIER_ORDER, 1):
            member = _first_member(db, tier)
            fields = CardFields(key_id, int(member), 900_000 + n, valid_until)
            message = sign_card(fields, _uid(n), key)
            _register(db, fields, _uid(n), now)
            cards.append(
                DemoCard(
                    tier,
                    f"{tier} member {member}",
                    CardKind.NFC_TYPE2,
                    "accepted",
                    _uid(n).hex(),
                    message.hex(),
                    member_no=member,
                )
            )
        gold = _first_member(db, "gold")
        printed = issue_card(CardFields(key_id, int(gold), 900_010, valid_until), b"", key)
        cards.append(
            DemoCard(
                "qr-gold",
                f"printed QR card of gold member {gold}",
                CardKind.WEDGE,
                "accepted",
                text=encode_text(printed),
                member_no=gold,
            )
        )
        cards += _refusals(db, key, key_id, forger, now, valid_until)
    return cards


def _register(db: sqlite_utils.Database, fields: CardFields, uid: bytes, now: datetime) -> None:
    db.execute(
        "INSERT OR REPLACE INTO cards (serial, uid, member_no, kind, expires, updated_at) "
        "VALUES (?, ?, ?, 'signed', ?, ?)",
        [
            str(fields.serial),
            uid.hex().upper(),
            str(fields.member_no),
            fields.expiry.isoformat(),
            now.isoformat(),
        ],
    )


def _refusals(
    db: sqlite_utils.Database,
    key: Ed25519PrivateKey,
    key_id: int,
    forger: Ed25519PrivateKey,
    now: datetime,
    valid_until: date,
) -> list[DemoCard]:
    basic = _first_member(db, "basic")
    silver = _first_member(db, "silver")
    nfc = CardKind.NFC_TYPE2

    def card(
        label: str,
        description: str,
        expect: str,
        fields: CardFields,
        uid: bytes,
        signer: Ed25519PrivateKey = key,
        chip: bytes | None = None,
    ) -> DemoCard:
        message = sign_card(fields, uid, signer)
        return DemoCard(
            label,
            description,
            nfc,
            expect,
            (chip or uid).hex(),
            message.hex(),
            member_no=str(fields.member_no),
        )

    expired = CardFields(key_id, int(silver), 900_020, now.date() - timedelta(days=30))
    revoked = CardFields(key_id, int(basic), 900_021, valid_until)
    revoke_card(db, revoked.serial, None, "reported stolen", now)
    unsynced = CardFields(key_id, 77_000_000_001, 900_022, valid_until)
    uid_only = db.execute(
        "SELECT uid, member_no FROM cards WHERE kind = 'uid-only' LIMIT 1"
    ).fetchone()
    return [
        card(
            "unsynced",
            "valid card, member not in this terminal's cache yet",
            "accepted",
            unsynced,
            _uid(22),
        ),
        card(
            "expired", f"silver member {silver}, expired 30 days ago", "expired", expired, _uid(20)
        ),
        card("revoked", f"basic member {basic}, reported stolen", "revoked", revoked, _uid(21)),
        card(
            "forged",
            "signed with a key the club does not own",
            "forged",
            CardFields(key_id, int(basic), 900_023, valid_until),
            _uid(23),
            forger,
        ),
        card(
            "cloned",
            "the basic card's bytes copied onto another chip",
            "forged",
            CardFields(key_id, int(basic), 900_001, valid_until),
            _uid(1),
            chip=_uid(24),
        ),
        card(
            "unknown-key",
            "signed under a key id unknown to this terminal",
            "unknown-key",
            CardFields(key_id + 76, int(basic), 900_025, valid_until),
            _uid(25),
        ),
        DemoCard(
            "uid-only",
            f"MIFARE Classic registered to member {uid_only[1]}",
            CardKind.UID_ONLY,
            "accepted",
            uid=uid_only[0].lower(),
            member_no=uid_only[1],
        ),
        DemoCard(
            "copied-uid",
            "a blank magic chip set to the basic card's UID",
            CardKind.UID_ONLY,
            "copied",
            uid=_uid(1).hex(),
        ),
        DemoCard(
            "stranger",
            "a transit card with no club data",
            CardKind.UID_ONLY,
            "unknown-member",
            uid=_uid(99).hex(),
        ),
    ]


def save(cards: list[DemoCard], path: Path) -> None:
    """Write the demo cards as JSON."""
    path.write_text(json.dumps([asdict(c) for c in cards], indent=2) + "\n")


def load(path: Path) -> list[DemoCard]:
    """Read demo cards saved by :func:`save`.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        return [DemoCard(**item) for item in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            "demo cards", f"cannot read {path}: {exc}", hint="run 'club-terminal demo-data' first"
        ) from exc
