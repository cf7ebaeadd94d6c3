"""The thinnest slice through every layer: HTTP → Temporal → activity → PostgreSQL and back."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.model import Role
from infra.tables import audit_events, cases
from tests.helpers.desk import Desk
from tests.helpers.people import APPLICANT, COORDINATOR
from tests.helpers.support import filing


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_filing_starts_the_case_workflow_and_records_it(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], sessions: async_sessionmaker[AsyncSession],
    temporal: object,
) -> None:
    created = await http.post("/api/cases", json=filing(), headers=auth(tokens[APPLICANT]))
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["stage"] == "screening"
    assert case["reference"].startswith("GA-")
    assert case["allowed_actions"] == ["withdraw", "update_contact"]

    read = await http.get(f"/api/cases/{case['id']}", headers=auth(tokens[APPLICANT]))
    assert read.status_code == 200
    assert read.json()["company"]["name"] == "Acme GmbH"

    async with sessions() as session:
        row = (await session.execute(select(cases).where(cases.c.id == case["id"]))).mappings().one()
        events = (await session.execute(select(audit_events).where(audit_events.c.case_id == case["id"]))).all()
    assert row["stage"] == "screening" and row["applicant_org"] == "acme-gmbh"
    assert [(e.seq, e.type, e.stage_after) for e in events] == [(1, "filed", "screening")]


async def test_the_workflow_is_named_after_the_case(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], temporal: object,
) -> None:
    from temporalio.client import Client

    assert isinstance(temporal, Client)
    case = (await http.post("/api/cases", json=filing(), headers=auth(tokens[APPLICANT]))).json()
    description = await temporal.get_workflow_handle(f"case-{case['id']}").describe()
    assert description.workflow_type == "Case"


async def test_the_audit_trail_refuses_update_and_delete(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], sessions: async_sessionmaker[AsyncSession],
) -> None:
    case = (await http.post("/api/cases", json=filing(), headers=auth(tokens[APPLICANT]))).json()
    for statement in ("UPDATE audit_events SET type = 'forged' WHERE case_id = :id",
                      "DELETE FROM audit_events WHERE case_id = :id"):
        async with sessions() as session:
            try:
                await session.execute(text(statement), {"id": case["id"]})
                await session.commit()
            except Exception as error:
                assert "append-only" in str(error)
            else:
                raise AssertionError(f"{statement} was allowed")
    history = await http.get(f"/api/cases/{case['id']}/history", headers=auth(tokens[APPLICANT]))
    assert [e["type"] for e in history.json()["events"]] == ["filed"]


async def test_health_reports_database_and_temporal(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "temporal": "up"}


async def test_requests_without_a_valid_token_are_refused(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        response = await http.get("/api/cases", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


async def test_an_unknown_case_is_a_problem_404(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str]
) -> None:
    for case_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = await http.get(f"/api/cases/{case_id}", headers=auth(tokens[APPLICANT]))
        assert response.status_code == 404
        assert response.json()["title"] == "Case not found"


async def test_filing_twice_with_the_same_idempotency_key_gives_one_case(
    http: httpx.AsyncClient, tokens: dict[tuple[Role, str], str], sessions: async_sessionmaker[AsyncSession],
) -> None:
    headers = {**auth(tokens[APPLICANT]), "Idempotency-Key": f"filing-7f3a-{uuid.uuid4()}"}
    first = await http.post("/api/cases", json=filing(), headers=headers)
    again = await http.post("/api/cases", json=filing(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    async with sessions() as session:
        events = (await session.execute(select(audit_events).where(audit_events.c.case_id == first.json()["id"]))).all()
    assert len(events) == 1
    other_key = {**headers, "Idempotency-Key": f"filing-8b1c-{uuid.uuid4()}"}
    other = await http.post("/api/cases", json=filing(), headers=other_key)
    assert other.json()["id"] != first.json()["id"]


async def test_an_action_retried_with_its_idempotency_key_after_it_was_applied_gets_the_same_answer(
    desk: Desk,
) -> None:
    """A client whose answer was lost retries: it gets the result it missed, and the action counts once."""
    case = await desk.file(APPLICANT)
    headers = {**desk.headers(COORDINATOR), "Idempotency-Key": f"relay-2b7e-{uuid.uuid4()}"}
    url = f"/api/cases/{case['id']}/actions/relay"
    first = await desk.http.post(url, json={"offices": ["sbic"]}, headers=headers)
    again = await desk.http.post(url, json={"offices": ["sbic"]}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert [e["type"] for e in await desk.history(case, COORDINATOR)] == ["filed", "relay"]
    other_key = {**headers, "Idempotency-Key": f"relay-9c-{uuid.uuid4()}"}
    other = await desk.http.post(url, json={"offices": ["sbic"]}, headers=other_key)
    assert other.status_code == 409, "a new key for an action no longer possible is refused as ever"


async def test_an_idempotency_key_on_a_closed_case_is_refused_as_the_action_would_be(desk: Desk) -> None:
    case = await desk.file(APPLICANT)
    await desk.ok(case, "withdraw", APPLICANT, reason="changed plans")
    late = await desk.http.post(f"/api/cases/{case['id']}/actions/add_note", json={"text": "too late"},
                                headers={**desk.headers(COORDINATOR),
                                         "Idempotency-Key": f"note-after-close-{uuid.uuid4()}"})
    assert late.status_code == 409, late.text
    assert late.json()["stage"] == "closed"
