"""A member as the card layer sees them: number, name to show, tier."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MemberSummary", "UidCard"]


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """The little the verifier needs to know about a member."""

    member_no: str
    display_name: str
    tier: str


@dataclass(frozen=True, slots=True)
class UidCard:
    """A card registered under a chip UID.

    Attributes:
        member_no: the member the card belongs to.
        uid_only: True when the club registered it as a UID-only card (MIFARE
            Classic and the like), the only kind a bare UID may identify. A
            signed card's UID is public (every tap broadcasts it): a chip that
            shows it without a valid signed record is a copy.
    """

    member_no: str
    uid_only: bool
