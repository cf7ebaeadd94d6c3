"""The case desk's reads: a case, a page of cases, a case's trail, its verdict and its past, from PostgreSQL.

Nothing is changed and Temporal is not asked; `CaseNotFound` for a case the viewer may not see.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import Numeric, literal, select, tuple_

from domain.audit import AuditEntry
from domain.chain_verification import ChainReport
from domain.door import as_stored
from domain.errors import CaseNotFound, Forbidden, NotFiledYet, Unreplayable
from domain.model import Actor, CaseState, Role
from domain.rewind import RewindError, rewind
from domain.rules import can_see
from domain.workflow_ids import is_case_id
from infra.audit_trail import case_rows, trail_of
from infra.case_rows import snapshot_of, stored_case
from infra.chain_verdicts import case_verdict
from infra.stored_checkpoints import case_anchor
from infra.tables import cases
from infra.visibility import visible_to
from services.context import Services
from services.listing import PAGE_COLUMNS, CaseFilters, Page, decode_cursor, encode_cursor, sort_key

log = structlog.get_logger(__name__)
class CaseReads:
    """What the case desk reads for a viewer; `CaseDesk` adds what changes a case."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def load(self, case_id: str, viewer: Actor) -> CaseState:
        """The case from the read model; `CaseNotFound` when it does not exist or the viewer may not see it."""
        if not is_case_id(case_id):
            raise CaseNotFound()
        snapshot = await snapshot_of(self.services.lone_statements, case_id)  # twice an action: by the driver
        if snapshot is None:
            raise CaseNotFound()
        state = stored_case(snapshot, case_id)
        if not can_see(state, viewer):
            raise CaseNotFound()
        return state

    async def seen_by(self, case_id: str, viewer: Actor) -> None:
        """`CaseNotFound` unless the case exists and the viewer may see it, asked of the row's own columns (what the
        lists are scoped by, `infra.visibility`) rather than its record: a case whose record its owner altered still
        has its trail verified and packed as evidence, for those who may see it."""
        if not is_case_id(case_id):
            raise CaseNotFound()
        async with self.services.lone_statements.connect() as conn:
            found = await conn.scalar(select(cases.c.id).where(cases.c.id == case_id, visible_to(viewer)))
        if found is None:
            raise CaseNotFound()

    async def verify(self, case_id: str, viewer: Actor) -> ChainReport:
        """Recompute the case's hash chain from the stored events, check every signature and hold the trail
        against the latest checkpoint of it (staff and auditors only); the case's record (`load`) is not read."""
        await self.seen_by(case_id, viewer)
        if viewer.role == Role.APPLICANT:
            raise Forbidden("verification is for staff and auditors")
        keyring = self.services.settings.audit_keys.keyring
        # a damaged row (a column NULL, no event at all…) is a break at its seq, as `alliance audit verify` says
        return case_verdict(case_id, await case_rows(self.services.sessions, case_id), keyring,
                            await case_anchor(self.services.engine, case_id, keyring))

    async def as_of(self, case_id: str, viewer: Actor, when: datetime) -> CaseState:
        """The case as it stood at `when`, rebuilt from its audit events (404 if not filed by then)."""
        current = await self.load(case_id, viewer)
        entries = await trail_of(self.services.sessions, case_id)
        try:
            with as_stored():
                past = rewind(entries, current.service_levels, when)
        except (RewindError, ValueError) as error:  # ValueError: an event today's rules cannot read back
            log.error("audit trail cannot be replayed", error=str(error))
            raise Unreplayable(str(error)) from None
        if past is None:
            raise NotFiledYet(f"the case had not been filed at {when.isoformat()}")
        return past

    async def history(self, case_id: str, viewer: Actor) -> list[AuditEntry]:
        """The case's events, oldest first; `Unreplayable` (naming the event) for a trail that holds none, or a row
        that is no event, or events not in their places: `verify` says why the trail is broken."""
        await self.load(case_id, viewer)
        return await trail_of(self.services.sessions, case_id)

    async def list(self, viewer: Actor, filters: CaseFilters) -> Page:
        """One page of the cases the viewer may see (those whose stored record is no case listed as damaged), and
        the cursor of the next page."""
        key = sort_key(filters.sort)
        query = select(*PAGE_COLUMNS, key.label("sort_key")).where(visible_to(viewer), *filters.conditions())
        if filters.cursor is not None:
            after_key, after_id = decode_cursor(filters.cursor)
            query = query.where(
                tuple_(key, cases.c.id) > tuple_(literal(after_key, Numeric()), literal(after_id, cases.c.id.type))
            )
        query = query.order_by(key, cases.c.id).limit(filters.limit + 1)
        async with self.services.sessions() as session:
            rows = (await session.execute(query)).all()
        page = rows[: filters.limit]
        more = len(rows) > filters.limit
        next_cursor = encode_cursor(page[-1].sort_key, str(page[-1].id)) if more and page else None
        return Page.of(page, next_cursor)
