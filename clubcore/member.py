"""A member as the card layer sees them: number, name to show, tier."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MemberSummary"]


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """The little the verifier needs to know about a member."""

    member_no: str
    display_name: str
    tier: str
