"""Every exception the club terminal and the club server raise on purpose.

Foreign exceptions (sqlite3, pyscard, nfcpy, requests, cryptography) are mapped
to these where they enter our code, with ``raise ... from exc``, so callers
catch one tree::

    ClubError                         base of everything below
    ├── UserFacingError               safe to show a cashier or technician as is
    │   ├── ConfigError               a bad setting; names the key and the problem
    │   ├── NotFoundError             an unknown thing was asked for
    │   │   ├── UnknownProductError   no such SKU or barcode
    │   │   ├── UnknownMemberError    no such member number, phone or card
    │   │   └── UnknownSaleError      no such sale id
    │   ├── CheckoutError             the basket or sale refused an action
    │   │   ├── QuantityError         zero, negative or absurd quantity
    │   │   ├── MemberOnlyItemError   member-only item for a non-member
    │   │   ├── RedemptionError       over the balance, the cap or the policy
    │   │   ├── SaleStateError        wrong state (empty basket, already refunded)
    │   │   └── TenderError           payments that do not cover the total, bad change
    │   ├── AuthorizationError        a wrong or missing manager PIN
    │   ├── AlreadyRunningError       another app or sync process has this data directory
    │   ├── CardRejectedError         a card read but refused; ``reason`` says why
    │   ├── RequestRefusedError       the club server refused a request; ``code``, ``status``
    │   │   └── RateLimitedError          too many requests (429); ``retry_after`` seconds
    │   ├── ReaderError               a card reader problem
    │   │   ├── ReaderUnavailableError    no such reader, or it cannot be opened
    │   │   └── CardIOError               the card went away or answered badly
    │   └── SyncError                 talking to the club server failed
    │       ├── ServerUnreachableError    refused, reset, timed out, TLS failed (retry later)
    │       ├── ServerRejectedError       the server refused the request (4xx); ``code``
    │       │   ├── EnrollmentError           a bad, used or expired enrollment code
    │       │   └── TerminalRevokedError      this terminal's credential was revoked
    │       └── ProtocolError             the server's answer breaks the sync protocol
    ├── FormatError                   malformed bytes or text from outside
    │                                 (card payload, NDEF, APDU reply, wedge
    │                                 input, wire payload, --item argument)
    └── StoreError                    the local database failed
        ├── StoreConfigError          the file is not in WAL/FULL mode
        ├── MigrationError            a schema migration failed or is unknown
        ├── StoreFullError            the disk is full: nothing was written (also UserFacingError)
        └── StoreReadOnlyError        the data cannot be written (also UserFacingError)
"""

from __future__ import annotations

__all__ = [
    "AlreadyRunningError",
    "AuthorizationError",
    "CardIOError",
    "CardRejectedError",
    "CheckoutError",
    "ClubError",
    "ConfigError",
    "EnrollmentError",
    "FormatError",
    "MemberOnlyItemError",
    "MigrationError",
    "NotFoundError",
    "ProtocolError",
    "QuantityError",
    "RateLimitedError",
    "ReaderError",
    "ReaderUnavailableError",
    "RedemptionError",
    "RequestRefusedError",
    "SaleStateError",
    "ServerRejectedError",
    "ServerUnreachableError",
    "StoreConfigError",
    "StoreError",
    "StoreFullError",
    "StoreReadOnlyError",
    "SyncError",
    "TenderError",
    "TerminalRevokedError",
    "UnknownMemberError",
    "UnknownProductError",
    "UnknownSaleError",
    "UserFacingError",
]


class ClubError(Exception):
    """Base of every error raised on purpose by this project."""


class UserFacingError(ClubError):
    """An error whose message is written for the person at the terminal.

    ``hint`` optionally says what to do about it.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class ConfigError(UserFacingError):
    """A configuration value is missing or wrong; the message names the key."""

    def __init__(self, key: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{key}: {problem}", hint=hint)
        self.key = key
        self.problem = problem


class NotFoundError(UserFacingError):
    """Something that was asked for does not exist."""


class UnknownProductError(NotFoundError):
    """No product has this SKU or barcode."""


class UnknownMemberError(NotFoundError):
    """No member has this number, phone or card."""


class UnknownSaleError(NotFoundError):
    """No sale has this id."""


class CheckoutError(UserFacingError):
    """The checkout refused an action; nothing was changed."""


class QuantityError(CheckoutError):
    """A quantity is zero, negative or too large."""


class MemberOnlyItemError(CheckoutError):
    """A member-only item was priced for a customer who is not identified."""


class RedemptionError(CheckoutError):
    """A points redemption exceeds the balance, the cap or the offline policy."""


class SaleStateError(CheckoutError):
    """The action does not fit the sale's state (empty basket, already voided)."""


class TenderError(CheckoutError):
    """Payments that do not add up to the total, too little cash, a bad card reference."""


class AuthorizationError(UserFacingError):
    """A manager PIN is wrong or missing."""


class AlreadyRunningError(UserFacingError):
    """Another process of the same role (the app, the sync daemon) has the data directory."""


class CardRejectedError(UserFacingError):
    """A card was read but refused. ``reason`` is a machine-readable code."""

    def __init__(self, reason: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class RequestRefusedError(UserFacingError):
    """The club server refused a request (server side; the API answers ``status``).

    ``code`` is the protocol's error code (``unknown-code``, ``terminal-revoked``).
    """

    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class RateLimitedError(RequestRefusedError):
    """Too many requests, or too many failed enrollment codes: try again in ``retry_after`` s."""

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(429, code, message)
        self.retry_after = max(1, retry_after)


class ReaderError(UserFacingError):
    """A card reader problem."""


class ReaderUnavailableError(ReaderError):
    """The reader does not exist or cannot be opened."""


class CardIOError(ReaderError):
    """The card was removed mid-read or answered with garbage: tap again."""


class SyncError(UserFacingError):
    """Talking to the club server failed."""


class ServerUnreachableError(SyncError):
    """Connection refused or reset, timed out, or TLS failed; worth retrying later."""


class ServerRejectedError(SyncError):
    """The server refused the request with a 4xx; ``code`` is its error code."""

    def __init__(
        self, message: str, *, code: str = "", status: int = 0, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.status = status


class EnrollmentError(ServerRejectedError):
    """The enrollment code is malformed, unknown, used or expired."""


class TerminalRevokedError(ServerRejectedError):
    """This terminal's credential was revoked on the server."""


class ProtocolError(SyncError):
    """The server answered something that breaks the sync protocol."""


class FormatError(ClubError):
    """Bytes or text from outside are malformed. Nothing was changed."""


class StoreError(ClubError):
    """The local SQLite store failed."""


class StoreConfigError(StoreError):
    """The database connection is not configured for durability (WAL, FULL)."""


class MigrationError(StoreError):
    """A schema migration failed, or the file is newer than this program."""


class StoreFullError(StoreError, UserFacingError):
    """The disk holding the terminal's data is full; the transaction was rolled back whole.

    Also a :class:`UserFacingError`: its message and ``hint`` are written for the
    person at the terminal.
    """


class StoreReadOnlyError(StoreError, UserFacingError):
    """The terminal's data directory or database file cannot be written (permissions, a
    read-only mount); nothing was written."""
