"""The touchscreen app (Kivy): checkout, member panel, manager and technician screens.

Thin screens over the headless services (:mod:`terminal.checkout`,
:mod:`offline_store.reports`, :mod:`terminal.refunds`, ...). The modules that
import Kivy are only imported by :func:`terminal.ui.app.run_app`; the rest
(:mod:`~terminal.ui.env`, :mod:`~terminal.ui.i18n`, :mod:`~terminal.ui.worker`,
:mod:`~terminal.ui.session`, :mod:`~terminal.ui.status`) import and test
without a display.

Threading: one worker thread (:class:`~terminal.ui.worker.Worker`) owns the
terminal's SQLite connection and runs every checkout, report and health
operation; reader threads deliver card events. Both post their results to the
UI thread with ``Clock.schedule_once``; the UI thread never touches the disk,
the network or a card.
"""
