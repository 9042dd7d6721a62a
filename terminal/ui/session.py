"""The worker's side of the app: the terminal, its checkout, and views of them.

A :class:`UISession` lives on the :class:`~terminal.ui.worker.Worker` thread
and is the only object that touches the database. Every method returns an
immutable view (:mod:`terminal.ui.views`) or raises one of our errors; the
domain rules stay in the services it calls (:class:`~terminal.checkout.Checkout`,
:mod:`terminal.refunds`, :mod:`offline_store.reports`, :mod:`terminal.pins`),
the queries in the store (:mod:`offline_store.pricing_data`,
:mod:`offline_store.sales`) and the rules in the core (tier progress:
:func:`clubcore.tiers.tier_progress`; which offers are a member's:
:func:`clubcore.pricing.targeted_offers`).

Reader events are debounced here, once, on this one thread
(:meth:`UISession.card_read`); keyed entries are not debounced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date

from clubcore.errors import CardRejectedError, ClubError, UnknownProductError
from clubcore.identity import IdMethod
from clubcore.pricing import targeted_offers
from clubcore.reports import DailyReport
from clubcore.tiers import Tier, tier_progress
from offline_store import pricing_data
from offline_store.cards import StoreCardDirectory
from offline_store.db import integrity_problems
from offline_store.members import Member
from offline_store.reports import daily_report
from offline_store.sales import sales_of_day
from terminal import refunds, verifier
from terminal.bootstrap import Terminal
from terminal.pins import authorize
from terminal.readers.base import CardKind, CardRead
from terminal.ui.status import (
    SyncPanel,
    SyncStatusView,
    local_status,
    provisioned_url,
)
from terminal.ui.views import (
    BasketView,
    HealthCheck,
    LineView,
    ManagerView,
    MemberView,
    ProductView,
    RedeemInfo,
    SaleDone,
    SaleRow,
    TestRead,
)
from terminal.verifier import Debouncer

log = logging.getLogger(__name__)

__all__ = ["UISession"]

#: how many product buttons one page shows
PAGE = 24


class UISession:
    """The terminal as the app's worker sees it."""

    def __init__(
        self,
        terminal: Terminal,
        sync_status: Callable[[], SyncStatusView] | None = None,
        debounce: float = 2.0,
    ) -> None:
        """Arguments: sync_status: the sync client's current status, if one runs;
        debounce: seconds a card must be away before a read of it counts again.
        """
        self.terminal = terminal
        self.db = terminal.db
        self.checkout = terminal.checkout()
        self.sync_status = sync_status
        #: the one place reader events are debounced: here, on the worker thread
        self.debouncer = Debouncer(debounce)
        self.tiers: dict[str, Tier] = pricing_data.load_tiers(self.db)

    # -- views -------------------------------------------------------------

    def basket(self, read_at: float | None = None) -> BasketView:
        """The current basket, priced."""
        priced = self.checkout.priced
        lines = tuple(
            LineView(
                line.line_no,
                line.sku,
                line.name,
                line.quantity,
                line.list_total,
                line.line_total,
                line.discount,
                str(line.source),
            )
            for line in priced.lines
        )
        state = self.checkout.state
        member = state.member
        return BasketView(
            lines=lines,
            subtotal_list=priced.subtotal_list,
            member_discount=priced.member_discount,
            points_redeemed=priced.points_redeemed,
            points_discount=priced.points_discount,
            total=priced.total,
            points_earned=priced.points_earned,
            member=self._member_view(member, state.id_method, state.unsynced) if member else None,
            read_at=read_at,
        )

    def _member_view(
        self, member: Member, id_method: IdMethod | None, unsynced: bool
    ) -> MemberView:
        standing = tier_progress(self.tiers.values(), member.tier, member.spend_12m)
        offers = pricing_data.offers_for(self.db, member.member_no, self.terminal.clock())
        above = standing.next
        return MemberView(
            member_no=member.member_no,
            name=member.display_name,
            tier=member.tier,
            tier_name=standing.current.name if standing.current else member.tier,
            points_balance=member.points_balance,
            next_tier=above.code if above else None,
            next_tier_name=above.name if above else "",
            to_next=standing.to_next,
            progress=standing.progress,
            offers=targeted_offers(offers, member.customer),
            id_method=str(id_method) if id_method else "",
            unsynced=unsynced,
        )

    # -- products ------------------------------------------------------------

    def categories(self) -> list[tuple[str, str]]:
        """(code, name) of every category that has active products."""
        return pricing_data.categories(self.db)

    def products(self, category: str, offset: int = 0, limit: int = PAGE) -> list[ProductView]:
        """A page of a category's active products, by SKU."""
        return _views(pricing_data.products_in(self.db, category, offset, limit))

    def search(self, digits: str, limit: int = PAGE) -> list[ProductView]:
        """Products whose SKU or barcode contains ``digits``."""
        return _views(pricing_data.search_products(self.db, digits, limit))

    # -- basket actions ------------------------------------------------------

    def add(self, code: str, quantity: int = 1) -> BasketView:
        self.checkout.add(code, quantity)
        return self.basket()

    def set_quantity(self, sku: str, quantity: int) -> BasketView:
        if quantity < 1:
            self.checkout.remove(sku)
        else:
            self.checkout.set_quantity(sku, quantity)
        return self.basket()

    def remove(self, sku: str) -> BasketView:
        self.checkout.remove(sku)
        return self.basket()

    def clear(self) -> BasketView:
        self.checkout.void()
        return self.basket()

    def drop_member(self) -> BasketView:
        self.checkout.drop_member()
        return self.basket()

    # -- the customer --------------------------------------------------------

    def handle_read(self, read: CardRead) -> BasketView:
        """A card, scan or keyed entry: a product barcode adds it, anything else identifies.

        Raises:
            CardRejectedError, UnknownMemberError, checkout errors.
        """
        if read.kind is CardKind.WEDGE and read.text:
            try:
                sku = pricing_data.find_product(self.db, read.text.strip())
            except UnknownProductError:
                pass
            else:
                self.checkout.add(sku)
                return self.basket()
        self.checkout.identify_read(read)
        return self.basket(read_at=read.monotonic)

    def card_read(self, read: CardRead) -> BasketView | None:
        """A reader's event: as :meth:`handle_read`, or None for a repeat of a card just read."""
        return self.handle_read(read) if self.debouncer.accept(read) else None

    def card_test_read(self, read: CardRead) -> TestRead | None:
        """A reader's event for the technician's test: None for a repeat (nothing shown)."""
        return self.test_read(read) if self.debouncer.accept(read) else None

    def set_debounce(self, window: float) -> None:
        """Change the debounce window (0: every read counts; demos and benchmarks)."""
        self.debouncer.window = window

    def identify_entry(self, text: str) -> BasketView:
        """A member number or phone keyed on the keypad."""
        return self.handle_read(CardRead("keypad", CardKind.MANUAL, text=text))

    def redeem_info(self) -> RedeemInfo:
        member = self.checkout.state.member
        policy = self.checkout.rules.points
        max_points = self.checkout.max_redeemable()
        return RedeemInfo(
            balance=member.points_balance if member else 0,
            max_points=max_points,
            max_amount=max_points * policy.point_value,
            min_redeem=policy.min_redeem,
            max_redeem_bp=policy.max_redeem_bp,
            offline_cap=self.terminal.settings.redeem_cap_points,
            current=self.checkout.state.redeem_points,
        )

    def redeem(self, points: int) -> BasketView:
        self.checkout.redeem(points)
        return self.basket()

    def complete(self, tender: str) -> SaleDone:
        """Record the sale durably; returns once it is committed."""
        sale = self.checkout.complete(tender)
        return SaleDone(
            sale.sale_id, sale.total, str(sale.tender), sale.points_earned, self.basket()
        )

    # -- manager -------------------------------------------------------------

    def authorize(self, pin: str, role: str) -> str:
        """The staff id for this PIN and role. Raises AuthorizationError."""
        return authorize(self.db, pin, role, self.terminal.clock())

    def _store_report(self, day: date) -> DailyReport | None:
        """The whole store's report from the club server, or None (not provisioned, offline)."""
        from sync.http import RetryPolicy
        from sync.provision import open_client
        from sync.reports import store_daily_report

        if not self.terminal.settings.provisioned:
            return None
        try:
            policy = RetryPolicy(attempts=2, deadline=4.0)
            with open_client(self.db, self.terminal.data_dir, policy=policy) as client:
                return store_daily_report(client, day, deadline=4.0)
        except ClubError as exc:
            log.info("store-wide report unavailable, showing this lane's: %s", exc)
            return None

    def manager(self) -> ManagerView:
        """Today's report (the store's from the server if online, else this lane's), records."""
        today = self.terminal.local_now().date()
        store = self._store_report(today)
        report = store or daily_report(self.db, today, self.terminal.settings.currency_name, top=5)
        tz = self.terminal.timezone
        sales = tuple(
            SaleRow(
                row.sale_id,
                row.kind,
                row.created_at.astimezone(tz).strftime("%H:%M"),
                row.total,
                row.member_no,
                row.returned,
            )
            for row in sales_of_day(self.db, today)
        )
        return ManagerView(
            report, sales, self.sync_panel().status.pending, store_wide=store is not None
        )

    def void(self, sale_id: str, pin: str) -> tuple[str, int]:
        """Void a whole sale (manager PIN); returns (kind, amount) recorded."""
        record = refunds.void_sale(self.terminal, sale_id, pin, "voided at the lane")
        return str(record.kind), record.total

    def refund(self, sale_id: str, pin: str) -> tuple[str, int]:
        """Refund what is left of a sale (manager PIN); returns (kind, amount)."""
        record = refunds.refund_sale(self.terminal, sale_id, pin, None, "refunded at the lane")
        return str(record.kind), record.total

    # -- technician ----------------------------------------------------------

    def sync_panel(self) -> SyncPanel:
        status = self.sync_status() if self.sync_status else local_status(self.db)
        url = provisioned_url(self.db)
        return SyncPanel(status, bool(url), url, self.terminal.terminal_id, self.terminal.store_id)

    def health(self, reader_states: Mapping[str, str]) -> list[HealthCheck]:
        """Database integrity, readers, outbox backlog and store data."""
        problems = integrity_problems(self.db, limit=1)
        result = problems[0] if problems else "ok"
        status = self.sync_panel().status
        pending = status.pending
        bad = {path: state for path, state in reader_states.items() if state != "ready"}
        products = pricing_data.count_products(self.db)
        return [
            HealthCheck("tech.check.db", result == "ok", result),
            HealthCheck(
                "tech.check.readers",
                bool(reader_states) and not bad,
                ", ".join(f"{p}: {s}" for p, s in (bad or reader_states).items()) or "-",
            ),
            HealthCheck("tech.check.outbox", pending < 1000, str(pending)),
            HealthCheck("tech.check.refused", status.refused == 0, str(status.refused)),
            HealthCheck("tech.check.held", status.held == 0, str(status.held)),
            HealthCheck("tech.check.data", products > 0, f"{products} products"),
        ]

    def test_read(self, read: CardRead) -> TestRead:
        """Verify a read without touching the basket."""
        today = self.terminal.local_now().date()
        extra = {"uid": read.uid.hex() if read.uid else "", "text": (read.text or "")[:32]}
        try:
            found = verifier.identify(read, StoreCardDirectory(self.db), today=today)
        except CardRejectedError as exc:
            return TestRead(read.source, str(read.kind), False, reason=exc.reason, extra=extra)
        return TestRead(
            read.source, str(read.kind), True, found.member_no, str(found.strength), extra=extra
        )

    def readers(self) -> tuple[str, ...]:
        """The reader paths the terminal is configured with (:mod:`clubcore.settings`)."""
        return self.terminal.settings.readers


def _views(rows: list[pricing_data.ProductRow]) -> list[ProductView]:
    return [ProductView(r.sku, r.name, r.list_price, r.member_only) for r in rows]


def sale_lines(session: UISession, sale_id: str) -> list[tuple[int, str, int, int]]:
    """(line no, name, quantity left to refund, line total) of a sale's lines."""
    from offline_store import sales

    sale = sales.get_sale(session.db, sale_id)
    done = sales.refunded_quantities(session.db, sale_id)
    return [
        (line.line_no, line.name, line.quantity - done.get(line.line_no, 0), line.line_total)
        for line in sale.lines
        if line.quantity - done.get(line.line_no, 0) > 0
    ]


def refund_line(
    session: UISession, sale_id: str, line_no: int, quantity: int, pin: str
) -> tuple[str, int]:
    """Refund ``quantity`` of one line (manager PIN); returns (kind, amount)."""
    record = refunds.refund_sale(
        session.terminal, sale_id, pin, {line_no: quantity}, "refunded at the lane"
    )
    return str(record.kind), record.total
