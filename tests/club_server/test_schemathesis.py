"""Schemathesis against a real uvicorn server: no 5xx, and every answer matches the document.

A bounded, repeatable run (stateless, positive cases generated from
``/openapi.json``) on each backend (SQLite, and PostgreSQL when it answers):
a fixed number of cases per operation, derandomized, with an enrolled lane's
credential; ``POST /v1/decommission`` runs last,
since it revokes the lane. The server runs on the seed's clock
(:class:`MovableClock`), never the real date. Checks: ``not_a_server_error``
and ``response_schema_conformance`` (plus ``status_code_conformance``: every
status answered is documented). The case count is printed (``-s``) and
recorded in the test's ``user_properties``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from club_server.db import Database
from club_server.entities import ENTITIES
from tests.club_server.conftest import enroll_lane

#: cases per operation at most (9 operations): a few hundred cases, well under a minute
CASES_PER_OPERATION = 50
LAST = ("POST", "/v1/decommission")

pytestmark = pytest.mark.slow


@schemathesis.deserializer("application/x-ndjson")
def _ndjson(_ctx: Any, response: Any) -> list[Any]:
    """A snapshot page as the list of its lines (as ``snapshot_page_schema`` describes it)."""
    return [json.loads(line) for line in response.content.splitlines() if line.strip()]


def _run(operation: Any, call: Callable[[Any], None], strategy: Any = None) -> None:
    if strategy is None:
        strategy = operation.as_strategy()

    @settings(
        max_examples=CASES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        call(case)

    run()


def _plan(operations: list[Any]) -> list[tuple[Any, Any, GenerationMode]]:
    """Each operation as generated, positive then negative (data the document refuses), the
    snapshot page again with the protocol's entity names (random names are all 404; the
    known ones exercise the NDJSON pages), and ``POST /v1/decommission`` last: it revokes
    the lane.
    """
    plan: list[tuple[Any, Any, GenerationMode]] = []
    for mode in GenerationMode:
        for operation in operations:
            plan.append((operation, operation.as_strategy(generation_mode=mode), mode))
            if "{entity}" in operation.path:
                known = st.sampled_from(sorted(ENTITIES)).flatmap(
                    lambda name, op=operation, m=mode: op.as_strategy(
                        generation_mode=m, path_parameters={"entity": name}
                    )
                )
                plan.append((operation, known, mode))
    return sorted(plan, key=lambda step: (step[0].method.upper(), step[0].path) == LAST)


def test_the_live_server_keeps_its_document(
    live_server: str, demo: Database, record_property: Callable[[str, object], None]
) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        lane = enroll_lane(http, demo)
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    counts: dict[str, int] = {}
    statuses: dict[int, int] = {}
    failures: list[str] = []
    empty: list[str] = []

    def call(case: Any) -> None:
        mode = case.meta.generation.mode.value if case.meta else "positive"
        where = f"{mode} {case.operation.method.upper()} {case.operation.path}"
        counts[where] = counts.get(where, 0) + 1
        response = case.call(base_url=live_server, headers=lane.headers, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, headers=lane.headers)  # every check schemathesis has

    for operation, strategy, mode in _plan(operations):
        where = f"{mode.value} {operation.method.upper()} {operation.path}"
        try:
            _run(operation, call, strategy)
        except Unsatisfiable:  # nothing the document refuses (no parameters, no body)
            empty.append(where)
        except Exception as exc:  # schemathesis' FailureGroup, shrunk by Hypothesis
            failures.append(f"{where}: {str(exc)[:3000]}")
    total = sum(counts.values())
    negative = sum(n for where, n in counts.items() if where.startswith("negative"))
    errors = sum(n for status, n in statuses.items() if status >= 500)
    print(f"\nschemathesis: {total} cases ({negative} negative) over {len(counts)} "
          f"operation x mode: {counts}")  # fmt: skip
    print(f"schemathesis: answers by status: {dict(sorted(statuses.items()))}")
    print(f"schemathesis: {errors} server errors, {len(failures)} findings; "
          f"no negative case for: {empty}")  # fmt: skip
    record_property("schemathesis_cases", total)
    record_property("schemathesis_negative_cases", negative)
    assert len({w.split(" ", 1)[1] for w in counts}) == len(operations) >= 9
    assert total >= 600 and negative >= 200 and statuses.get(200, 0) >= total // 4
    assert errors == 0
    assert not failures, "\n\n".join(failures[:5])
