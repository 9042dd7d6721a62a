"""Who may change what: roles, the actor behind a change, and :func:`require`.

===============  ========================================================
role             may
===============  ========================================================
``admin``        everything, including accounts, API tokens and stores
``operator``     catalog (categories, products, prices, offers, tiers),
                 members and cards, imports, reports and flags
``store_manager`` reports and flags of their own stores, read only
API token        its scope only: ``import`` (an ERP's nightly job)
===============  ========================================================

The ``club-server`` command runs as ``admin`` (whoever can run it on the
server can read the database anyway); its audit entries name the system user.
A refusal is :class:`~clubcore.errors.RequestRefusedError` 403 ``forbidden``,
raised before anything is written.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from enum import StrEnum

from clubcore.errors import RequestRefusedError

__all__ = ["PERMISSIONS", "Action", "Actor", "Role", "cli_actor", "require"]


class Role(StrEnum):
    """An account's role, or ``import`` for an API token."""

    ADMIN = "admin"
    OPERATOR = "operator"
    STORE_MANAGER = "store_manager"
    IMPORT = "import"


class Action(StrEnum):
    """A class of actions a role may or may not take."""

    ACCOUNTS = "accounts"  # accounts and API tokens
    STORES = "stores"  # add, rename, time zone
    CATALOG = "catalog"  # categories, products, prices, offers, tiers (read and write)
    MEMBERS = "members"  # search, update, merge, history
    IMPORT = "import"  # bulk import of catalog and members
    REPORTS = "reports"  # reports and flags (store managers: their stores)
    AUDIT = "audit"  # reading the audit log


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.OPERATOR: frozenset({Action.CATALOG, Action.MEMBERS, Action.IMPORT, Action.REPORTS}),
    Role.STORE_MANAGER: frozenset({Action.REPORTS}),
    Role.IMPORT: frozenset({Action.IMPORT}),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: an account, an API token, or the command line."""

    kind: str  # account, token, cli
    name: str
    role: Role
    stores: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        """How the audit log names them: ``account:alice``, ``token:t_…``, ``cli:root``."""
        return f"{self.kind}:{self.name}"

    def may(self, action: Action, store: str | None = None) -> bool:
        """Whether this actor may take ``action`` (on ``store``, for a store manager)."""
        if action not in PERMISSIONS[self.role]:
            return False
        if self.role is Role.STORE_MANAGER:
            return store is not None and store in self.stores
        return True


def require(actor: Actor, action: Action, store: str | None = None) -> None:
    """Refuse unless ``actor`` may take ``action``.

    Raises:
        RequestRefusedError: 403 ``forbidden``.
    """
    if not actor.may(action, store):
        where = f" for store {store}" if store else ""
        raise RequestRefusedError(
            403, "forbidden", f"{actor.label} ({actor.role}) may not do {action}{where}"
        )


def cli_actor() -> Actor:
    """The ``club-server`` command's actor: an admin named after the system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor("cli", user, Role.ADMIN)
