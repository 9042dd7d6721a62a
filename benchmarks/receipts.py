"""Benchmark: a receipt rendered and sent to a network printer, p99 <= 150 ms.

A demo store, a cashier signed in, a member sale of ``--lines`` lines paid by
card and cash; then, ``--runs`` times, its Persian receipt is built from the
store, drawn as an image at 80 mm and sent as ESC/POS to a network printer
emulated on loopback (a TCP listener that reads and drops the bytes: the
printer's own speed is excluded). Also measured: ``complete_to_ready``, a
sale completed to the till ready for the next customer (the receipt's
printing excluded: the app prints off the UI thread). Prints one JSON document::

    python -m benchmarks.receipts --runs 200
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
from pathlib import Path

from benchmarks.common import emit, machine, summarize, time_calls
from clubcore.tender import Payment, Tender, cash_payment
from terminal.bootstrap import bootstrap
from terminal.demo_data import DEMO_CASHIER, DEMO_CASHIER_PIN, member_number, seed
from terminal.receipts.service import print_receipt
from terminal.shifts import sign_in


def _sink() -> tuple[socket.socket, str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while conn.recv(65536):
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return server, f"net:127.0.0.1:{server.getsockname()[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--lines", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        terminal = bootstrap(Path(tmp))
        seed(terminal.db, members=500, products=max(args.lines, 120), now=terminal.clock())
        sign_in(terminal, DEMO_CASHIER, DEMO_CASHIER_PIN)
        checkout = terminal.checkout()

        def ring_up() -> None:
            checkout.identify(member_number(3))
            for n in range(1, args.lines + 1):
                checkout.add(f"P{n:06d}")

        def complete(_: int = 0) -> None:
            total = checkout.priced.total
            checkout.complete(payments=[Payment(Tender.CARD, total - 10, reference="42"),
                                        cash_payment(10, 100)])  # fmt: skip

        ring_up()
        complete()
        from offline_store.sales import last_sale

        sale = last_sale(terminal.db)
        assert sale is not None
        server, path = _sink()
        receipt = time_calls(lambda _: print_receipt(terminal, sale, printer=path, lang="fa"),
                             args.runs)  # fmt: skip
        ready = []
        for _ in range(args.runs):
            ring_up()
            ready += time_calls(complete, 1)
        server.close()
        terminal.close()
    emit({"machine": machine(), "receipt_rendered_and_sent": summarize(receipt),
          "complete_to_ready": summarize(ready)})  # fmt: skip


if __name__ == "__main__":
    main()
