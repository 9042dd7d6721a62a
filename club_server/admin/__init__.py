"""The club's back office: who may change what, and the services that change it.

One module per job; each service takes the :class:`~club_server.admin.access.Actor`
doing it, checks the actor may (:func:`~club_server.admin.access.require`,
before anything is written), writes through :mod:`club_server.upserts` (so the
change log and the rule set follow) and records the change in the audit log
(:mod:`club_server.admin.audit`), all in the caller's transaction. Rows are
checked by :mod:`clubcore.records` against what the club knows
(:mod:`club_server.known`), the same rules the importer applies. The HTTP
routes (:mod:`club_server.admin.routes`) and the ``club-server`` commands call
the same services.

=====================  ==========================================================
module                 job
=====================  ==========================================================
``access``             roles, actors and what each role may do
``accounts``           operator accounts, passwords, sessions and API tokens
``audit``              the audit log, and audited writes of cached rows
``models``             the typed requests and answers (pydantic, in the OpenAPI);
                       the rows' rules are :mod:`clubcore.records`'
``categories``         categories with translations
``products``           products, barcodes and translations
``prices``             member prices per tier, category percentages per tier
``offers``             offers: targets, schedule, texts, stacking, enabled
``tier_admin``         adding, changing and retiring tiers
``member_admin``       member search, update, merge and history
``stores``             stores: add, rename, time zone
``routes``             the admin HTTP API, ``/admin/v1`` (imports included)
=====================  ==========================================================
"""
