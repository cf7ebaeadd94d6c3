"""The relational schema, as SQLAlchemy Core tables (migrations in `infra/migrations` create them)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("org", String(64), nullable=False),
    Column("email", Text),
    Column("language", String(2), nullable=False, server_default="en"),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

cases = Table(
    "cases",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("stage", String(32), nullable=False, index=True),
    Column("outcome", String(32)),
    Column("applicant_org", String(64), nullable=False, index=True),
    Column("company_name", Text, nullable=False),
    Column("offices", ARRAY(String(32)), nullable=False, server_default="{}"),
    Column("lead_office", String(32)),
    Column("assignee", Text),
    Column("assignee_id", Text),
    Column("due_at", DateTime(timezone=True)),
    Column("overdue", Boolean, nullable=False, server_default="false"),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("paused", Boolean, nullable=False, server_default="false"),
    Column("seq", Integer, nullable=False),
    Column("snapshot", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("cases_open_by_assignee", "assignee_id", postgresql_where=text("stage <> 'closed'")),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("case_id", UUID(as_uuid=False), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("actor", JSONB, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("stage_before", String(32)),
    Column("stage_after", String(32), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("hash_version", SmallInteger, nullable=False, server_default="1"),
    Column("personal", JSONB(none_as_null=True)),  # None is SQL NULL: "no personal data", not JSON null
    Column("personal_salt", String(64)),
    Column("personal_digest", String(64)),
    Column("key_id", String(16)),  # the signing key's id; NULL (with signature) for events from before signing
    Column("signature", String(128)),  # Ed25519 over the hash (domain.signing)
    UniqueConstraint("hash", name="uq_audit_events_hash"),
)

smes = Table(
    "smes",
    metadata,
    Column("id", String(13), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_ja", Text, nullable=False),
    Column("prefecture", String(16), nullable=False),
    Column("industries", ARRAY(String(4)), nullable=False, server_default="{}"),
    Column("employees", Integer, nullable=False),
    Column("technologies", Text, nullable=False),
    Column("consent", Boolean, nullable=False, server_default="true"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("city", Text, nullable=False, server_default=""),
    Column("capital_jpy", BigInteger, nullable=False, server_default="0"),
    Column("founded", SmallInteger),
    Column("certifications", ARRAY(Text), nullable=False, server_default="{}"),
    Column("overseas_interest", ARRAY(Text), nullable=False, server_default="{}"),
    Column("name_kana", Text, nullable=False, server_default=""),
    Column("closed_on", Date),
    Column("close_cause", String(2)),
    Column("successor_id", String(13)),
    Column("nta_updated", Date),
    Column(
        "search", TSVECTOR, Computed("to_tsvector('english'::regconfig, casedesk_fold(technologies))", persisted=True)
    ),
    Column(
        "match_terms",
        TSVECTOR,
        Computed(
            "sme_match_terms(casedesk_fold(technologies), industries, prefecture, certifications, overseas_interest)",
            persisted=True,
        ),
    ),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("case_id", UUID(as_uuid=False), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("template", String(32), nullable=False),
    Column("recipient_name", Text, nullable=False),
    Column("recipient_email", Text, nullable=False),
    Column("language", String(2), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("status", String(16), nullable=False, server_default="pending"),  # infra.outbox.Status
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("reported_at", DateTime(timezone=True)),  # undeliverable: on the case's trail since
)

case_texts = Table(
    "case_texts",
    metadata,
    Column("case_id", UUID(as_uuid=False), primary_key=True),
    Column("ref", String(32), primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""Free text of a case that travels through Temporal as a reference (`domain.texts`); written by the service
before the workflow hears of it, read back by the recording activity."""

incidents = Table(
    "incidents",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("workflow_id", Text, nullable=False),
    Column("case_id", UUID(as_uuid=False)),
    Column("step", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failures", Integer, nullable=False, server_default="1"),
    Column("first_failure_at", DateTime(timezone=True), nullable=False),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
    Column("error", Text, nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Index("incidents_open", "workflow_id", "step", unique=True, postgresql_where=text("resolved_at IS NULL")),
)
"""Steps that keep failing (found by the failing activity itself, or by the scan of Temporal's pending
activities and workflow tasks); open while `resolved_at` is NULL."""

scan_turns = Table(
    "scan_turns",
    metadata,
    Column("name", Text, primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
)
"""When a periodic job that one worker does for all (the incident scan) was last started, by whichever worker:
`infra.incidents.take_scan_turn`."""

consent_tellings = Table(
    "consent_tellings",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),  # the withdrawal's id as the case's workflow sees it
    Column("case_id", UUID(as_uuid=False), nullable=False, index=True),
    Column("sme_id", String(13), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("done_at", DateTime(timezone=True)),
    Column("outcome", String(16)),  # infra.consent_tellings.Outcome
    Index("consent_tellings_due", "next_attempt_at", postgresql_where=text("done_at IS NULL")),
)
"""Withdrawals of consent to tell the open cases they affect (migration 0028): one row per (case, SME, withdrawal),
written with the withdrawal; the worker signals each until the case's workflow has it (`done_at`)."""

delegations = Table(
    "delegations",
    metadata,
    Column("delegator_id", UUID(as_uuid=False), primary_key=True),
    Column("delegate_id", UUID(as_uuid=False), nullable=False, index=True),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Who acts for whom while they are away (issue 21): one delegation per delegator, in force from `starts_at` until
`ends_at`; cancelling deletes it (every action taken under it names both people in its audit event)."""

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("case_id", UUID(as_uuid=False), nullable=False),
    Column("action", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
"""Each Idempotency-Key a caller used: what it was sent with (fingerprint: case, action, payload) and the audit
event it produced; written in the same transaction as that event, forgotten after `IDEMPOTENCY_TTL_HOURS`."""

reassignments = Table(
    "reassignments",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("requested_by", JSONB, nullable=False),
    Column("leaving", JSONB, nullable=False),
    Column("taking_over", JSONB, nullable=False),
    Column("org", String(64), nullable=False),
    Column("filter", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)
"""Bulk reassignments (issue 21): who asked (an `Actor`), whose cases (`leaving`) go to whom (`taking_over`), of which
organisation (`org`, whose managers may read it), with which filter; `total` is fixed once the cases are listed."""

reassignment_cases = Table(
    "reassignment_cases",
    metadata,
    Column("reassignment_id", UUID(as_uuid=False), primary_key=True),
    Column("case_id", UUID(as_uuid=False), primary_key=True),
    Column("reference", String(32), nullable=False),
    Column("outcome", String(16)),
    Column("detail", Text),
    Column("done_at", DateTime(timezone=True)),
)
"""One row per case of a bulk reassignment, listed when it starts; `outcome` (`domain.reassignment.ReassignOutcome`)
stays NULL until the case's turn is over, so the workflow never holds the list and a restart carries on."""

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("member_id", Text, nullable=False, index=True),
    Column("member_name", Text, nullable=False),
    Column("company", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("declared_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""Conflicts of interest fund committee members declared (issue 21): `company` is an applicant's organisation code or
an SME's corporate number. Append-only (a trigger refuses changes): a declaration stands, for auditors to read."""
