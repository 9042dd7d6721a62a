"""The terminal's local SQLite cache and outbox (sqlite-utils).

- :mod:`offline_store.db`: opening a durable connection (WAL, ``synchronous=FULL``).
- :mod:`offline_store.migrations`: versioned schema steps.
- :mod:`offline_store.settings`: the settings table, read as :mod:`clubcore.settings`.
- :mod:`offline_store.pricing_data`: products, prices, offers, tiers, the rule set.
- :mod:`offline_store.members`: members, cards, points balances.
- :mod:`offline_store.sales`: recording sales, voids and refunds with their outbox entries.
- :mod:`offline_store.outbox`: what waits to be pushed to the club server, and its states.
- :mod:`offline_store.reports`: daily figures from local sales.
"""
