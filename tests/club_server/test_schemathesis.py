"""Schemathesis against a real uvicorn server: no 5xx, and every answer matches the document.

Bounded, repeatable runs on each backend (SQLite, and PostgreSQL when it
answers), with every check schemathesis has (``case.validate_response``) and
the repository's ``schemathesis.toml``; the server runs on the seed's clock
(:class:`MovableClock`), never the real date, and an enrolled lane's
credential is the schema's ``TerminalCredential`` auth (so a negative case
that drops the header is sent without it).

- stateless: a fixed number of cases per operation, positive then negative,
  derandomized; ``POST /v1/decommission`` runs last, since it revokes the lane;
- stateful: scenarios that follow the document's OpenAPI links (enroll ->
  snapshot, manifest -> changes -> next page, sales -> retry, rotate ->
  activate), a bounded number of scenarios and steps; decommission is left out;
- the back office (``/admin/v1/``): stateless, :data:`ADMIN_CASES` per operation and
  mode, with a signed-in admin's session token as the ``AdminToken`` auth; changing an
  account (it may be the run's own) and signing out run last.

Each run prints its counts (``-s``): cases or steps, answers by status,
server errors and findings. :func:`test_a_broken_route_is_reported` proves
both runners report a route that fails.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from club_server import routes
from club_server.app import create_app
from club_server.db import Database
from club_server.entities import ENTITIES
from tests.club_server.admin_fixtures import sign_in
from tests.club_server.conftest import Lane, MovableClock, enroll_lane, new_code, serve

#: cases per operation and mode at most (9 operations): about 500 cases, about a minute
CASES_PER_OPERATION = 30
#: stateful scenarios, and steps in each at most: about 150 steps, under half a minute
SCENARIOS, STEPS = 30, 8
LAST = ("POST", "/v1/decommission")
#: the lanes' API, tested here with a lane's credential (the back office's has its own)
LANE_API = "/v1/"
#: the back office's API, with an admin's session token as its ``AdminToken`` auth: few
#: cases per operation (about 40 operations: under 90 seconds), and last the operations
#: that may end the run's own account (a change of ``root``) or session (sign-out)
ADMIN_API, ADMIN_CASES = "/admin/v1/", 12
ADMIN_LAST = (("PATCH", "/admin/v1/accounts/{username}"), ("DELETE", "/admin/v1/session"))
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"

pytestmark = pytest.mark.slow


@schemathesis.deserializer("application/x-ndjson")
def _ndjson(_ctx: Any, response: Any) -> list[Any]:
    """A snapshot page as the list of its lines (as ``snapshot_page_schema`` describes it)."""
    return [json.loads(line) for line in response.content.splitlines() if line.strip()]


@dataclass
class Tally:
    """What a run sent and saw: cases by label, answers by status, findings."""

    counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    #: steps that followed a link, by link
    links: dict[str, int] = field(default_factory=dict)

    def answered(self, label: str, status: int) -> None:
        self.counts[label] = self.counts.get(label, 0) + 1
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def report(self, run: str) -> None:
        print(f"\nschemathesis {run}: {self.total} cases: {self.counts}")
        print(f"schemathesis {run}: answers by status: {dict(sorted(self.statuses.items()))}")
        print(f"schemathesis {run}: {self.server_errors} server errors, "
              f"{len(self.findings)} findings")  # fmt: skip
        if self.links:
            print(f"schemathesis {run}: steps along links: {self.links}")


class Credentialed(Protocol):
    """Whoever the run calls as: an enrolled :class:`Lane`, or an :class:`AdminSession`."""

    credential: str


@dataclass
class AdminSession:
    """A signed-in admin's session token, as the run's credential."""

    credential: str


def _label(case: Any) -> str:
    mode = case.meta.generation.mode.value if case.meta else "positive"
    return f"{mode} {case.operation.method.upper()} {case.operation.path}"


def load_schema(base_url: str, caller: Credentialed) -> Any:
    """The live document, configured by ``schemathesis.toml``, with ``caller``'s credential.

    The credential is read on every case (a lane's may change: a stateful run
    may activate a rotated one).
    """
    data = tomllib.loads(CONFIG.read_text())
    data["base-url"] = base_url
    schema = schemathesis.openapi.from_url(
        f"{base_url}/openapi.json", config=SchemathesisConfig.from_dict(data)
    )

    @schema.auth(refresh_interval=None, retry_on=[])
    class TerminalCredential:
        def get(self, case: Any, context: Any) -> str:
            return caller.credential

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


def lane_operations(schema: Any, api: str = LANE_API) -> list[Any]:
    """The operations of the lanes' API (:data:`LANE_API`), or of ``api``."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path.startswith(api)]


# -- stateless -------------------------------------------------------------------------------


def _run(call: Callable[[Any], None], strategy: Any, cases: int) -> None:
    @settings(
        max_examples=cases,
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


def _plan(
    operations: list[Any], last: tuple[tuple[str, str], ...]
) -> list[tuple[Any, Any, GenerationMode]]:
    """Each operation as generated, positive then negative (data the document refuses), the
    snapshot page again with the protocol's entity names (random names are all 404; the
    known ones exercise the NDJSON pages), and the operations of ``last`` last, in that
    order (``POST /v1/decommission`` revokes the lane).
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

    def rank(step: tuple[Any, Any, GenerationMode]) -> int:
        key = _key(step[0])
        return last.index(key) + 1 if key in last else 0

    return sorted(plan, key=rank)


def _key(operation: Any) -> tuple[str, str]:
    return operation.method.upper(), operation.path


def run_stateless(
    schema: Any,
    path: str | None = None,
    api: str = LANE_API,
    last: tuple[tuple[str, str], ...] = (LAST,),
    cases: int | None = None,
) -> tuple[Tally, list[str]]:
    """Every operation of ``api`` (or those of ``path``), positive then negative, ``cases``
    each at most (:data:`CASES_PER_OPERATION`), ``last`` last; the tally and the runs with
    no negative case."""
    operations = lane_operations(schema, api)
    operations = [op for op in operations if path in (None, op.path)]
    tally, empty = Tally(), []

    def call(case: Any) -> None:
        response = case.call(timeout=30)
        tally.answered(_label(case), response.status_code)
        case.validate_response(response)  # every check schemathesis has

    for operation, strategy, mode in _plan(operations, last):
        where = f"{mode.value} {operation.method.upper()} {operation.path}"
        try:
            _run(call, strategy, cases or CASES_PER_OPERATION)
        except Unsatisfiable:  # nothing the document refuses (no parameters, no body)
            empty.append(where)
        except (Exception, FailureGroup) as exc:  # a FailureGroup is no Exception
            tally.findings.append(f"{where}: {str(exc)[:3000]}")
            print(f"schemathesis: finding in {where}: {str(exc).splitlines()[:3]}")
    return tally, empty


# -- stateful --------------------------------------------------------------------------------


def run_stateful(schema: Any, lane: Lane, database: Database) -> Tally:
    """Scenarios along the document's links; decommission is left out (it ends the lane).

    A positive enrollment gets a fresh code (a random one is only ever refused),
    so the ``UseCredential`` link has a credential to follow; an activated
    rotation makes the pending credential the lane's.
    """
    tally = Tally()
    lanes_only = schema.exclude(path_regex=f"^(?!{LANE_API})")
    base = lanes_only.exclude(method="POST", path=LAST[1]).as_state_machine()

    class Machine(base):  # type: ignore[valid-type, misc]
        def step(self, input: Any) -> Any:
            if input.transition is not None and input.is_applied:
                link = input.transition.id
                tally.links[link] = tally.links.get(link, 0) + 1
            return super().step(input)

        def before_call(self, case: Any) -> None:
            positive = case.meta is None or case.meta.generation.mode.is_positive
            if case.operation.path == "/v1/enroll" and positive and isinstance(case.body, dict):
                case.body = {**case.body, "code": new_code(database)}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            tally.answered(_label(case), response.status_code)
            rotation = case.operation.path == "/v1/credential/rotate"
            if rotation and response.status_code == 200 and response.json()["status"] == "active":
                lane.credential = case.headers["Authorization"].removeprefix("Bearer ")

    try:
        Machine.run(
            settings=settings(
                max_examples=SCENARIOS,
                stateful_step_count=STEPS,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    except (Exception, FailureGroup) as exc:
        tally.findings.append(str(exc)[:3000])
    return tally


# -- the runs --------------------------------------------------------------------------------


def _enrolled(live_server: str, demo: Database) -> Lane:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        return enroll_lane(http, demo)


def test_the_live_server_keeps_its_document(
    live_server: str, demo: Database, record_property: Callable[[str, object], None]
) -> None:
    lane = _enrolled(live_server, demo)
    schema = load_schema(live_server, lane)
    tally, empty = run_stateless(schema)
    tally.report("stateless")
    print(f"schemathesis stateless: no negative case for: {empty}")
    negative = sum(n for where, n in tally.counts.items() if where.startswith("negative"))
    record_property("schemathesis_cases", tally.total)
    record_property("schemathesis_negative_cases", negative)
    operations = {where.split(" ", 1)[1] for where in tally.counts}
    assert len(operations) == len(lane_operations(schema)) >= 9
    assert tally.total >= 400 and negative >= 150
    assert tally.statuses.get(200, 0) >= tally.total // 4
    assert tally.server_errors == 0
    assert not tally.findings, "\n\n".join(tally.findings[:5])


def test_the_links_keep_the_document(
    live_server: str, demo: Database, record_property: Callable[[str, object], None]
) -> None:
    lane = _enrolled(live_server, demo)
    tally = run_stateful(load_schema(live_server, lane), lane, demo)
    tally.report("stateful")
    record_property("schemathesis_stateful_steps", tally.total)
    assert tally.total >= SCENARIOS
    assert tally.statuses.get(200, 0) >= tally.total // 4
    assert tally.server_errors == 0
    assert not tally.findings, "\n\n".join(tally.findings[:5])


def test_the_back_office_keeps_its_document(
    live_server: str, demo: Database, record_property: Callable[[str, object], None]
) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        token = sign_in(http, demo).admin["Authorization"].removeprefix("Bearer ")
    schema = load_schema(live_server, AdminSession(token))
    tally, empty = run_stateless(schema, api=ADMIN_API, last=ADMIN_LAST, cases=ADMIN_CASES)
    tally.report("stateless, admin")
    print(f"schemathesis stateless, admin: no negative case for: {empty}")
    record_property("schemathesis_admin_cases", tally.total)
    operations = {where.split(" ", 1)[1] for where in tally.counts}
    assert len(operations) == len(lane_operations(schema, ADMIN_API)) >= 30
    assert tally.statuses.get(200, 0) >= tally.total // 10
    assert tally.server_errors == 0
    assert not tally.findings, "\n\n".join(tally.findings[:5])


@pytest.fixture
def broken_server(
    demo: Database, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The live server with ``GET /v1/changes`` failing (500) on every call."""

    def broken(*_args: Any) -> Any:
        raise RuntimeError("deliberately broken")

    monkeypatch.setattr(routes, "read_changes", broken)
    yield from serve(create_app(demo, clock=clock))


def test_a_broken_route_is_reported(
    broken_server: str, demo: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.club_server.test_schemathesis.CASES_PER_OPERATION", 5)
    monkeypatch.setattr("tests.club_server.test_schemathesis.SCENARIOS", 10)
    lane = _enrolled(broken_server, demo)
    schema = load_schema(broken_server, lane)
    stateless, _ = run_stateless(schema, "/v1/changes")
    stateless.report("stateless, broken")
    stateful = run_stateful(load_schema(broken_server, lane), lane, demo)
    stateful.report("stateful, broken")
    for tally in (stateless, stateful):
        assert tally.server_errors > 0
        assert tally.findings and "Server error" in tally.findings[0], tally.findings
