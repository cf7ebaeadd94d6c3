"""Who may do what: every endpoint × every kind of caller, from one table.

The case in the table is in `matching`, relayed only to SBIC (the lead office): SBIC staff are "own
office", SME Support JAPAN staff "other office"; the applicant of Acme is its owner, Globex's is not.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.corporate_number import with_check_digit
from domain.model import Office, Role
from infra.users import NewUser, add_user
from tests.helpers.desk import Desk
from tests.helpers.people import ADMIN, APPLICANT, AUDITOR, COORDINATOR, FUND_MEMBER, manager, officer
from tests.helpers.support import PEPPER, filing

SBIC, SJ = Office.SBIC, Office.SME_SUPPORT_JAPAN
CALLERS = {
    "applicant (own company)": APPLICANT,
    "applicant (other company)": (Role.APPLICANT, "globex-sa"),
    "coordinator": COORDINATOR,
    "officer (own office)": officer(SBIC),
    "officer (other office)": officer(SJ),
    "manager (own office)": manager(SBIC),
    "manager (other office)": manager(SJ),
    "fund committee": FUND_MEMBER,
    "auditor": AUDITOR,
    "admin": ADMIN,
}
ENDPOINTS = ["list cases", "file a case", "read the case", "read its history", "verify its history",
             "cross-check its history", "add_note", "run_matching", "relay", "withdraw", "search the registry",
             "import into the registry", "export the audit trail", "take its evidence pack", "reassign in bulk"]
# One row per caller, one status per endpoint, in the order of ENDPOINTS. A case the caller may not see is a 404
# before any role gate answers 403: its existence does not leak. "reassign in bulk" moves the (own office's) officer's
# screening cases, of which there are none, to the office's manager (`domain.team_rules.bulk_reassignment_refusal`).
MATRIX: dict[str, tuple[int, ...]] = {
    "applicant (own company)":   (200, 201, 200, 200, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403, 403),
    "applicant (other company)": (200, 201, 404, 404, 404, 404, 404, 404, 404, 404, 403, 403, 403, 404, 403),
    "coordinator":               (200, 201, 200, 200, 200, 200, 200, 403, 409, 403, 200, 403, 403, 403, 202),
    "officer (own office)":      (200, 403, 200, 200, 200, 200, 200, 200, 403, 403, 200, 403, 403, 403, 403),
    "officer (other office)":    (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 200, 403, 403, 404, 403),
    "manager (own office)":      (200, 403, 200, 200, 200, 200, 200, 200, 403, 403, 200, 200, 403, 403, 202),
    "manager (other office)":    (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 200, 200, 403, 404, 403),
    "fund committee":            (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 200, 403, 403, 404, 403),
    "auditor":                   (200, 403, 200, 200, 200, 200, 403, 403, 403, 403, 200, 403, 200, 200, 403),
    "admin":                     (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 200, 200, 403, 404, 403),
}
PAYLOADS: dict[str, dict[str, Any]] = {
    "add_note": {"text": "checked"}, "run_matching": {}, "relay": {"offices": [SJ]}, "withdraw": {"reason": "x"},
}
# One SME of this test's own (never a demo SME): whoever may import it adds it, or updates it to the same.
REGISTRY_CSV = (
    "corporate_number,name,name_ja,prefecture,industries,employees,technologies,consent\n"
    f"{with_check_digit('970000000001')},Access Matrix Seiki,アクセス精機,Aichi,E,10,sensors,yes\n"
).encode()


@pytest.fixture
async def matrix_desk(desk: Desk, sessions: async_sessionmaker[AsyncSession]) -> Desk:
    _, token = await add_user(sessions, NewUser("Globex applicant", Role.APPLICANT, "globex-sa"), PEPPER)
    desk.tokens[(Role.APPLICANT, "globex-sa")] = token
    return desk


async def call(desk: Desk, endpoint: str, person: tuple[Role, str], case_id: str) -> int:
    headers = desk.headers(person)
    match endpoint:
        case "list cases":
            return (await desk.http.get("/api/cases", headers=headers)).status_code
        case "file a case":
            body = filing(on_behalf_of="acme-gmbh")
            return (await desk.http.post("/api/cases", json=body, headers=headers)).status_code
        case "read the case":
            return (await desk.get(case_id, person)).status_code
        case "read its history":
            return (await desk.http.get(f"/api/cases/{case_id}/history", headers=headers)).status_code
        case "verify its history":
            return (await desk.http.get(f"/api/cases/{case_id}/history/verify", headers=headers)).status_code
        case "cross-check its history":
            return (await desk.http.get(f"/api/cases/{case_id}/history/crosscheck", headers=headers)).status_code
        case "export the audit trail":
            return (await desk.http.get(f"/api/audit/export?case={case_id}", headers=headers)).status_code
        case "take its evidence pack":
            return (await desk.http.get(f"/api/cases/{case_id}/evidence", headers=headers)).status_code
        case "search the registry":
            return (await desk.http.get("/api/smes", headers=headers)).status_code
        case "import into the registry":
            csv_headers = {**headers, "content-type": "text/csv"}
            return (await desk.http.post("/api/smes/import", content=REGISTRY_CSV, headers=csv_headers)).status_code
        case "reassign in bulk":
            ids = [(await desk.http.get("/api/me", headers=desk.headers(p))).json()["id"]
                   for p in (officer(SBIC), manager(SBIC))]
            body = {"from": ids[0], "to": ids[1], "filter": {"stage": "screening"}}
            return (await desk.http.post("/api/work/reassign", json=body, headers=headers)).status_code
        case action:
            return (await desk.act(case_id, action, person, **PAYLOADS[action])).status_code


def test_the_matrix_covers_every_caller_and_endpoint() -> None:
    assert set(MATRIX) == set(CALLERS)
    assert all(len(row) == len(ENDPOINTS) for row in MATRIX.values())


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_access_matrix(matrix_desk: Desk, caller: str) -> None:
    desk = matrix_desk
    person = CALLERS[caller]
    got: dict[str, int] = {}
    for endpoint, expected in zip(ENDPOINTS, MATRIX[caller], strict=True):
        # A fresh case per endpoint, so a withdrawal or note cannot change what the next call meets.
        case = await desk.file(APPLICANT)
        await desk.ok(case, "relay", COORDINATOR, offices=[SBIC])
        await desk.ok(case, "accept_case", officer(SBIC))
        got[endpoint] = await call(desk, endpoint, person, case["id"])
        assert got[endpoint] == expected, f"{caller} → {endpoint}: {got[endpoint]}, expected {expected}"
