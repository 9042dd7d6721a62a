"""Printed receipts: what a receipt says, drawn as an image or text, sent to an ESC/POS printer.

=====================================  ==========================================
module                                 what it does
=====================================  ==========================================
:mod:`terminal.receipts.content`       a sale (and its member, cashier, store) ->
                                       a :class:`~terminal.receipts.content.Receipt`
                                       in one language, logical order
:mod:`terminal.receipts.image`         a receipt -> a 1-bit image at the paper's
                                       width (58 mm: 384 dots, 80 mm: 576 dots);
                                       Persian shaped and right to left
:mod:`terminal.receipts.printer`       a printer path (``net:HOST[:PORT]``,
                                       ``usb:VID:PID``, ``serial:DEVICE[:BAUD]``,
                                       ``file:PATH``) -> ESC/POS bytes sent
=====================================  ==========================================

Thermal printers have no Persian code page, so a Persian receipt always
prints as an image; an English one may print as text. Nothing here imports
Kivy: the CLI prints receipts too.
"""
