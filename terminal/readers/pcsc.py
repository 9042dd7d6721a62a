"""PC/SC readers through pcscd and pyscard: ``pcsc`` or ``pcsc:<reader name prefix>``.

==============================  ===================================================
feature                         supported
==============================  ===================================================
readers                         every reader pcscd lists, or those whose name
                                starts with the prefix; readers may come and go
NFC Forum Type 2 (NTAG21x,      UID (``FF CA``) and NDEF (``FF B0`` page reads of
MIFARE Ultralight)              4 or 16 bytes); writing with :func:`write_ntag`;
                                the originality signature (READ_SIG) on readers
                                with PN53x direct transmit (ACR122U style)
NFC Forum Type 4                UID and NDEF (ISO 7816-4 SELECT / READ BINARY)
ISO 7816 contact cards          NDEF in the club application (:data:`CLUB_AID`)
MIFARE Classic and the like     UID only (``CardKind.UID_ONLY``)
FeliCa (Type 3)                 no: use the nfcpy driver
card pulled away mid-read       status ERROR "card removed - tap again"
garbage / truncated replies     status ERROR "unreadable card: ... - tap again"
no matching reader              status ERROR "no reader", keeps polling
pcscd stopped or restarted      status RECONNECTING, a new context with backoff,
                                then READY
==============================  ===================================================

The loop keeps one pyscard ``CardRequest`` per PC/SC context and calls
``waitforcardevent()`` with a short timeout (no ``CardMonitor`` or
``ReaderMonitor``: their threads die silently). Reusing one request keeps
pcscd's reader states between calls, so a card tapped while another is being
read is not missed; a card is *new* when its reader's event counter changes.
Cards already on a reader when the context is made are not read (as with
``newcardonly``). :meth:`PcscReader.interrupt` cancels the wait, so ``stop()``
returns at once.

Card protocols live in :mod:`terminal.readers.apdu`; this module maps pyscard
to them and its errors to :mod:`clubcore.errors`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from smartcard.CardRequest import CardRequest
from smartcard.Exceptions import (
    CardRequestTimeoutException,
    NoCardException,
    SmartcardException,
)
from smartcard.pcsc.PCSCReader import PCSCReader
from smartcard.scard import (
    SCARD_E_INVALID_HANDLE,
    SCARD_E_NO_READERS_AVAILABLE,
    SCARD_E_NO_SERVICE,
    SCARD_E_NO_SMARTCARD,
    SCARD_E_READER_UNAVAILABLE,
    SCARD_E_SERVICE_STOPPED,
    SCARD_E_TIMEOUT,
    SCARD_E_UNKNOWN_READER,
    SCARD_F_COMM_ERROR,
    SCARD_S_SUCCESS,
    SCARD_SCOPE_USER,
    SCARD_STATE_PRESENT,
    SCARD_STATE_UNAWARE,
    SCARD_W_REMOVED_CARD,
    SCARD_W_RESET_CARD,
    SCARD_W_UNPOWERED_CARD,
    SCardCancel,
    SCardEstablishContext,
    SCardGetErrorMessage,
    SCardGetStatusChange,
    SCardListReaders,
    SCardReleaseContext,
)

from clubcore.errors import CardIOError, CardRejectedError, FormatError, ReaderUnavailableError
from terminal.readers import apdu
from terminal.readers.apdu import CLUB_AID
from terminal.readers.base import Backoff, CardKind, CardRead, ReaderState, ThreadedReader

__all__ = [
    "CARD_REMOVED",
    "CLUB_AID",
    "PCSCD_HINT",
    "PcscReader",
    "list_readers",
    "open",
    "write_ntag",
]

log = logging.getLogger(__name__)

CARD_REMOVED = "card removed - tap again"
PCSCD_HINT = "start pcscd: systemctl start pcscd"
POLL_SECONDS = 0.5  # longest wait for a card event before re-checking the reader list
PRESENCE_WAIT = 0.8  # after a bad reply: how long to watch for the card going away


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


_SERVICE_LOST = {
    _code(c)
    for c in (
        SCARD_E_NO_SERVICE,
        SCARD_E_SERVICE_STOPPED,
        SCARD_E_INVALID_HANDLE,
        SCARD_F_COMM_ERROR,
    )
}
_CARD_GONE = {
    _code(c)
    for c in (
        SCARD_W_REMOVED_CARD,
        SCARD_E_NO_SMARTCARD,
        SCARD_W_RESET_CARD,
        SCARD_W_UNPOWERED_CARD,
        SCARD_E_READER_UNAVAILABLE,
        SCARD_E_UNKNOWN_READER,
    )
}


_PNP = "\\\\?PnP?\\Notification"  # pyscard's pseudo-reader for reader arrival


class _ServiceLost(Exception):
    """pcscd went away or our context went stale; the context must be rebuilt."""


def _error_message(hresult: int) -> str:
    return f"{SCardGetErrorMessage(hresult)} (0x{_code(hresult):08X})"


# -- one card ------------------------------------------------------------------------


@contextlib.contextmanager
def _context() -> Iterator[Any]:
    """A fresh PC/SC context, or None when pcscd does not answer."""
    hresult, context = SCardEstablishContext(SCARD_SCOPE_USER)
    if hresult != SCARD_S_SUCCESS:
        yield None
        return
    try:
        yield context
    finally:
        SCardReleaseContext(context)


def _next_state(context: Any, reader: str, current: int, wait: float) -> int | None:
    """The reader's state after a change or ``wait`` seconds; None on a PC/SC error."""
    hresult, states = SCardGetStatusChange(context, int(wait * 1000), [(reader, current)])
    if _code(hresult) == _code(SCARD_E_TIMEOUT):
        return current
    return int(states[0][1]) if hresult == SCARD_S_SUCCESS else None


def _card_present(reader: str, wait: float) -> bool:
    """Whether a card is in ``reader`` and stays there for ``wait`` seconds."""
    with _context() as context:
        if context is None:
            return False
        state = _next_state(context, reader, SCARD_STATE_UNAWARE, 0)
        if state is None or not state & SCARD_STATE_PRESENT:
            return False
        return _next_state(context, reader, state, wait) == state


def _map_error(exc: SmartcardException, reader: str) -> Exception:
    """Translate a pyscard exception raised while talking to a card in ``reader``."""
    code = _code(exc.hresult)
    if code in _SERVICE_LOST:
        return _ServiceLost(f"PC/SC service lost: {_error_message(exc.hresult)}")
    if isinstance(exc, NoCardException) or code in _CARD_GONE:
        return CardIOError(CARD_REMOVED)
    # pyscard says "no valid response" (hresult 0) for replies under 2 bytes, pcscd
    # "transaction failed" for a card that stopped answering; a card pulled away looks
    # the same until pcscd's next poll, so ask pcscd whether it is still there
    if not _card_present(reader, PRESENCE_WAIT):
        return CardIOError(CARD_REMOVED)
    return CardIOError(f"the card gave a truncated or invalid reply ({exc})")


class _Session:
    """A connection to the card in one reader, with a raw transmit for :mod:`apdu`."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self.connection: Any = None

    def __enter__(self) -> _Session:
        return self

    def connect(self) -> None:
        try:
            self.connection = PCSCReader(self.reader).createConnection()
            self.connection.connect()
        except SmartcardException as exc:
            self.close()
            raise _map_error(exc, self.reader) from exc

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        for step in (connection.disconnect, connection.release):
            try:
                step()
            except SmartcardException as exc:  # the card or pcscd is already gone
                log.debug("pcsc %s: %s on close: %s", self.reader, step.__name__, exc)

    def atr(self) -> bytes:
        try:
            return bytes(self.connection.getATR())
        except SmartcardException as exc:
            raise _map_error(exc, self.reader) from exc

    def transmit(self, command: bytes) -> bytes:
        try:
            data, sw1, sw2 = self.connection.transmit(list(command))
        except SmartcardException as exc:
            raise _map_error(exc, self.reader) from exc
        return bytes(data) + bytes([sw1, sw2])


# -- the reader loop ------------------------------------------------------------------


class PcscReader(ThreadedReader):
    """Reads every new card on the matching PC/SC readers; see the module docstring."""

    def __init__(self, path: str, prefix: str = "") -> None:
        super().__init__(path)
        self.prefix = prefix
        self._request: Any = None
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}  # reader with a card -> pcscd's event counter

    def interrupt(self) -> None:
        """Cancel the wait for cards; again until the thread ends, as a cancel that
        lands just before pyscard enters ``SCardGetStatusChange`` is lost."""
        thread = self._thread
        deadline = time.monotonic() + POLL_SECONDS
        while True:
            with self._lock:
                if self._request is not None:
                    SCardCancel(self._request.pcsccardrequest.hcontext)
            if thread is None or thread is threading.current_thread():
                return
            thread.join(0.02)
            if not thread.is_alive() or time.monotonic() > deadline:
                return

    def run(self) -> None:
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                self._serve(backoff)
            except _ServiceLost as exc:
                log.warning("pcsc: %s", exc)
                self.status(ReaderState.RECONNECTING, f"{exc} ({PCSCD_HINT})")
                if self.sleep(backoff.next()):
                    return

    def _serve(self, backoff: Backoff) -> None:
        """Run one PC/SC context until stopped; raises _ServiceLost to get a new one."""
        try:
            request = CardRequest(newcardonly=True, timeout=POLL_SECONDS)
        except SmartcardException as exc:
            raise _ServiceLost(f"PC/SC service unavailable: {_error_message(exc.hresult)}") from exc
        with self._lock:
            self._request = request
        try:
            self._wait(request)  # the first call reports the cards already present
            self._seen = self._snapshot(request)
            while not self.stopping.is_set():
                if self._show_readers(request):
                    backoff.reset()
                if self._wait(request):
                    self._read_new_cards(request)
        finally:
            with self._lock:
                self._request = None
            self._release(request)

    def _release(self, request: Any) -> None:
        try:
            request.pcsccardrequest.release()
        except SmartcardException as exc:  # a stale context cannot be released cleanly
            log.debug("pcsc: releasing the old context: %s", exc)
            request.pcsccardrequest.hcontext = None  # or pyscard retries (and raises) in __del__

    def _show_readers(self, request: Any) -> bool:
        """Emit READY or "no reader"; True when a matching reader exists."""
        try:
            names = [str(n) for n in request.getReaders() if str(n).startswith(self.prefix)]
        except SmartcardException as exc:
            raise _ServiceLost(f"PC/SC service lost: {_error_message(exc.hresult)}") from exc
        if not names:
            wanted = f" matching {self.prefix!r}" if self.prefix else ""
            self.status(ReaderState.ERROR, f"no reader{wanted}; waiting for one")
            return False
        self.status(ReaderState.READY, "waiting for a card on " + ", ".join(names))
        return True

    def _wait(self, request: Any) -> bool:
        """Wait up to POLL_SECONDS for a card event; True when something changed."""
        if self.stopping.is_set():  # stop() may have cancelled before the wait began
            return False
        try:
            request.waitforcardevent()
        except CardRequestTimeoutException:
            return False
        except SmartcardException as exc:
            raise _ServiceLost(f"PC/SC service lost: {_error_message(exc.hresult)}") from exc
        except (IndexError, KeyError, TypeError) as exc:  # pyscard trips on a vanishing reader
            raise _ServiceLost(f"PC/SC reader list changed under us: {exc!r}") from exc
        return True

    def _snapshot(self, request: Any) -> dict[str, int]:
        """The readers holding a card now, with pcscd's event counter for each."""
        present: dict[str, int] = {}
        for name, state in list(request.pcsccardrequest.readerstates.values()):
            name = str(name)
            if name.startswith(self.prefix) and name != _PNP and state & SCARD_STATE_PRESENT:
                present[name] = (state >> 16) & 0xFFFF
        return present

    def _read_new_cards(self, request: Any) -> None:
        now = self._snapshot(request)
        new = [reader for reader, key in now.items() if self._seen.get(reader) != key]
        self._seen = now
        for reader in sorted(new):
            if self.stopping.is_set():
                return
            self._read_one(reader)

    def _read_one(self, reader: str) -> None:
        """Read one card and emit the result or an ERROR status; never raises but _ServiceLost."""
        self.status(ReaderState.READING, reader)
        try:
            with _Session(reader) as session:
                session.connect()
                atr = session.atr()
                kind, uid, ndef = apdu.read_card(session.transmit, atr)
                signature = None
                if kind is CardKind.NFC_TYPE2:
                    signature = apdu.read_chip_signature(session.transmit)
        except CardIOError as exc:
            text = str(exc)
            self.refuse(text if text == CARD_REMOVED else f"{text} - tap again")
        except (FormatError, CardRejectedError) as exc:
            self.refuse(f"unreadable card: {exc} - tap again")
        else:
            self.emit(
                CardRead(
                    f"pcsc:{reader}", kind, uid=uid, ndef=ndef, atr=atr, chip_signature=signature
                )
            )


def open(path: str, rest: str) -> PcscReader:
    """Create (not start) a PC/SC reader.

    Arguments:
        path: the whole path, e.g. ``pcsc:ACS ACR122U``.
        rest: the part after ``pcsc:``: a reader name prefix, or empty for every reader.

    Returns:
        The reader; it reports a missing pcscd or reader as status events, not errors.
    """
    return PcscReader(path, rest.strip())


# -- technician and issuing tools ---------------------------------------------------


def list_readers() -> list[str]:
    """The names of the readers pcscd knows now.

    Returns:
        Reader names; empty when there are none.

    Raises:
        ReaderUnavailableError: pcscd is not running or refuses us.
    """
    hresult, context = SCardEstablishContext(SCARD_SCOPE_USER)
    if hresult != SCARD_S_SUCCESS:
        raise ReaderUnavailableError(
            f"the PC/SC service (pcscd) is not available: {_error_message(hresult)}",
            hint=PCSCD_HINT,
        )
    try:
        hresult, names = SCardListReaders(context, [])
    finally:
        SCardReleaseContext(context)
    if _code(hresult) == _code(SCARD_E_NO_READERS_AVAILABLE):
        return []
    if hresult != SCARD_S_SUCCESS:
        raise ReaderUnavailableError(
            f"pcscd cannot list readers: {_error_message(hresult)}", hint=PCSCD_HINT
        )
    return [str(name) for name in names]


def _connect_when_present(session: _Session, wait: float) -> None:
    """Connect to the card, waiting up to ``wait`` seconds for one (and for pcscd to
    notice a card swapped just now: connecting then fails until its next poll)."""
    deadline = time.monotonic() + wait
    with _context() as context:
        state = (
            None
            if context is None
            else _next_state(context, session.reader, SCARD_STATE_UNAWARE, 0)
        )
        while state is not None:
            if state & SCARD_STATE_PRESENT:
                try:
                    return session.connect()
                except CardIOError:
                    if time.monotonic() >= deadline:
                        raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            state = _next_state(context, session.reader, state, remaining)
    raise CardIOError(f"no card on {session.reader}", hint="put the card on the reader")


def _resolve(reader: str) -> str:
    names = list_readers()
    if reader in names:
        return reader
    matches = [name for name in names if name.startswith(reader)]
    if len(matches) != 1:
        found = ", ".join(names) or "none"
        raise ReaderUnavailableError(
            f"no single PC/SC reader matches {reader!r}", hint=f"readers: {found}"
        )
    return matches[0]


def write_ntag(
    reader: str, ndef_message: bytes, *, expected_uid: bytes | None = None, wait: float = 2.0
) -> bytes:
    """Write an NDEF message to the NTAG21x on ``reader`` and verify it by reading back.

    Capacity comes from the tag's capability container; a message that does
    not fit is refused before anything is written.

    Arguments:
        reader: a reader name, or a prefix matching exactly one reader.
        ndef_message: the NDEF message bytes (the TLV wrapping is added here).
        expected_uid: refuse any other chip (the club signature covers the UID).
        wait: seconds to wait for a card to be put on the reader.

    Returns:
        The tag's UID.

    Raises:
        ReaderUnavailableError: pcscd is down or no single reader matches.
        CardIOError: no card, card removed, a refused write or a failed read-back.
        CardRejectedError: not an NTAG/Ultralight ("not-type2"), another chip than
            expected ("wrong-card"), write-protected ("read-only"), or too small
            ("too-small").
        FormatError: the tag's capability container is malformed.
    """
    name = _resolve(reader)
    try:
        with _Session(name) as session:
            _connect_when_present(session, wait)
            info = apdu.classify_atr(session.atr())
            if not info.type2:
                raise CardRejectedError("not-type2", f"{info.label} is not an NTAG21x")
            uid = apdu.read_uid(session.transmit)
            if uid is None or (expected_uid is not None and uid != expected_uid):
                raise CardRejectedError("wrong-card", "this is not the card being issued")
            apdu.write_type2(session.transmit, ndef_message)
            return uid
    except _ServiceLost as exc:
        raise ReaderUnavailableError(str(exc), hint=PCSCD_HINT) from exc
