"""Cards and readers at the command line: ``readers``, ``read``, ``card write``."""

from __future__ import annotations

import queue
import sys
import time
from typing import Any

import click

from clubcore.errors import CardRejectedError, FormatError, ReaderError
from offline_store import members
from offline_store.cards import StoreCardDirectory
from terminal import demo_cards, verifier
from terminal.bootstrap import Terminal
from terminal.cli.base import cli, emit_json, handle_errors, opened
from terminal.readers import CardRead, ReaderEvent, ReaderStatus, open_reader
from terminal.readers.sim import SimReader

__all__ = ["card", "read", "readers", "write"]

EXIT_REJECTED = 3
EXIT_NO_CARD = 4


def _pcsc_section() -> dict[str, Any]:
    from terminal.readers import pcsc

    try:
        return {"readers": [f"pcsc:{name}" for name in pcsc.list_readers()], "problem": None}
    except ReaderError as exc:
        return {"readers": [], "problem": exc.message, "hint": exc.hint}


def _optional_section(module: str) -> dict[str, Any]:
    try:
        driver = __import__(f"terminal.readers.{module}", fromlist=["list_devices"])
        return {"devices": [dict(d) for d in driver.list_devices()], "problem": None}
    except ImportError as exc:
        return {"devices": [], "problem": f"driver unavailable: {exc}"}


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handle_errors
def readers(as_json: bool) -> None:
    """List PC/SC readers, NFC devices and wedge scanners, with fix hints."""
    found = {
        "pcsc": _pcsc_section(),
        "nfc": _optional_section("nfc"),
        "wedge": _optional_section("wedge"),
    }
    if as_json:
        emit_json(found)
        return
    for kind, section in found.items():
        items = section.get("readers", section.get("devices", []))
        click.echo(
            f"{kind}: {len(items)} found"
            + (f" - {section['problem']}" if section["problem"] else "")
        )
        if section.get("hint"):
            click.echo(f"  hint: {section['hint']}")
        for item in items:
            if isinstance(item, str):
                click.echo(f"  {item}")
            else:
                state = (
                    "usable"
                    if item.get("usable", item.get("accessible"))
                    else item.get("problem", "not usable")
                )
                click.echo(
                    f"  {item['path']}  {item.get('name', item.get('driver', ''))}  [{state}]"
                )
                if item.get("hint"):
                    click.echo(f"    hint: {item['hint']}")


def _wait_for_card(
    paths: list[str], timeout: float, demo: demo_cards.DemoCard | None
) -> CardRead | None:
    events: queue.Queue[ReaderEvent] = queue.Queue()
    started = [open_reader(path) for path in paths]
    for reader in started:
        reader.start(events.put)
        if demo is not None and isinstance(reader, SimReader):
            reader.present(demo.as_read(reader.path))
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = events.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(event, ReaderStatus):
                detail = f": {event.detail}" if event.detail else ""
                click.echo(f"[{event.source}] {event.state}{detail}", err=True)
            else:
                return event
        return None
    finally:
        for reader in started:
            reader.stop()


def _describe(terminal: Terminal, read: CardRead, found: verifier.Identification) -> dict[str, Any]:
    info: dict[str, Any] = {
        "accepted": True,
        "source": read.source,
        "kind": str(read.kind),
        "uid": read.uid.hex() if read.uid else None,
        "member_no": found.member_no,
        "strength": str(found.strength),
        "method": str(found.method),
        "flagged_unsynced": found.flagged_unsynced,
        "serial": found.serial,
        "chip_signature": read.chip_signature.hex() if read.chip_signature else None,
        "chip_original": found.chip_original,
    }
    if found.member is not None:
        member = members.get_member(terminal.db, found.member_no)
        info |= {
            "name": member.display_name,
            "tier": member.tier,
            "points_balance": member.points_balance,
        }
    return info


@cli.command()
@click.option(
    "--reader",
    "paths",
    metavar="PATH",
    multiple=True,
    help="Reader path (repeatable) [default: the configured readers, else pcsc].",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a card.")
@click.option("--demo-card", metavar="LABEL", help="Present this demo card on the sim reader.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handle_errors
def read(
    ctx: click.Context, paths: tuple[str, ...], timeout: float, demo_card: str | None, as_json: bool
) -> None:
    """Wait for one card and print the verified member, or why it was refused.

    Exit status: 0 accepted; 3 refused, with the reason (a card that was present but
    could not be read is refused as unreadable, never "no card"); 4 no card within the
    timeout; 1 error.
    """
    with opened(ctx) as terminal:
        demo = None
        if demo_card:
            cards = {
                c.label: c for c in demo_cards.load(terminal.data_dir / demo_cards.DEMO_CARDS_FILE)
            }
            if demo_card not in cards:
                raise FormatError(f"--demo-card {demo_card!r}: one of {', '.join(cards)}")
            demo, paths = cards[demo_card], paths or ("sim",)
        chosen = list(paths) or list(terminal.settings.readers)
        event = _wait_for_card(chosen, timeout, demo)
        if event is None:
            click.echo(f"no card within {timeout:g} s", err=True)
            sys.exit(EXIT_NO_CARD)
        try:
            found = verifier.identify(
                event, StoreCardDirectory(terminal.db), today=terminal.local_now().date()
            )
        except CardRejectedError as exc:
            result = {
                "accepted": False,
                "source": event.source,
                "kind": str(event.kind),
                "uid": event.uid.hex() if event.uid else None,
                "reason": exc.reason,
                "message": exc.message,
                "hint": exc.hint,
            }
            emit_json(result) if as_json else click.echo(f"REFUSED ({exc.reason}): {exc}")
            sys.exit(EXIT_REJECTED)
        info = _describe(terminal, event, found)
        if as_json:
            emit_json(info)
        else:
            name, tier = info.get("name", "new member"), info.get("tier", "base tier")
            who = f"{name} ({found.member_no}, {tier})"
            click.echo(f"ACCEPTED: {who} by {found.strength} {event.kind} from {event.source}")
            if found.chip_original is False:
                click.echo(
                    "  no chip originality signature was read (this reader or chip cannot "
                    "give one): accepted, weaker"
                )
            if found.flagged_unsynced:
                click.echo(
                    "  not in this terminal's cache yet: base-tier prices, flagged for the club"
                )


@cli.group()
def card() -> None:
    """Card issuing at the counter."""


@card.command()
@click.option(
    "--reader",
    "path",
    required=True,
    metavar="PATH",
    help="pcsc:<reader name> or an nfc: path; the reader must not be in use.",
)
@click.option(
    "--ndef",
    "ndef_hex",
    required=True,
    metavar="HEX",
    help="The signed NDEF message (as printed by the club server's card issue).",
)
@click.option("--expect-uid", metavar="HEX", help="Refuse any chip with another UID.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for a tag.")
@handle_errors
def write(path: str, ndef_hex: str, expect_uid: str | None, timeout: float) -> None:
    """Write a signed card payload to a blank NTAG21x and verify it by reading back."""
    try:
        message = bytes.fromhex(ndef_hex)
        uid = bytes.fromhex(expect_uid) if expect_uid else None
    except ValueError:
        raise FormatError("--ndef and --expect-uid must be hexadecimal") from None
    prefix, _, rest = path.partition(":")
    if prefix == "pcsc":
        from terminal.readers import pcsc

        written = pcsc.write_ntag(rest, message, expected_uid=uid, wait=timeout)
    elif prefix == "nfc":
        from terminal.readers import nfc

        written = nfc.write_ndef(path, message, timeout, expect_uid=uid)
    else:
        raise FormatError(f"--reader {path!r}: card writing needs a pcsc: or nfc: reader")
    click.echo(f"written to chip {written.hex()} ({len(message)} bytes), read back and verified")
