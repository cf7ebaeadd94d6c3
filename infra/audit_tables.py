"""The tables auditors read beside the hash chains (`infra.tables`' `audit_events`): signed checkpoints of every
case's head, and the access log; on `infra.tables.metadata` (migrations in `infra/migrations` create them)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from infra.tables import metadata

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("cases", Integer, nullable=False),
    Column("root", String(64), nullable=False),
    Column("prev", String(64), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("verified", Boolean, nullable=False, server_default="false"),
)
"""Signed checkpoints (`domain.checkpoints`): a Merkle root over every case's head, chained to the checkpoint
before; append-only, and also written to the checkpoint log outside the database."""

audit_checkpoint_heads = Table(
    "audit_checkpoint_heads",
    metadata,
    Column("checkpoint_id", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("case_id", UUID(as_uuid=False), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Index("audit_checkpoint_heads_case", "case_id", "checkpoint_id"),
)
"""The leaves of each checkpoint's Merkle tree, in order: a case's last seq and head hash when it was taken."""

audit_checkpoint_deliveries = Table(
    "audit_checkpoint_deliveries",
    metadata,
    Column("checkpoint_id", Integer, ForeignKey("audit_checkpoints.id"), primary_key=True),
    Column("target", Text, primary_key=True),
    Column("delivered_at", DateTime(timezone=True), nullable=False),
)
"""Each checkpoint's deliveries to an `AUDIT_CHECKPOINT_URL` (`infra.checkpoint_sink.shown`: no secrets in it)."""

access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("person_id", Text, nullable=False),
    Column("person_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("org", Text, nullable=False),
    Column("case_id", UUID(as_uuid=False)),
    Column("sme_ids", ARRAY(Text), nullable=False, server_default="{}"),
    Column("fields", ARRAY(Text), nullable=False),
    Column("route", Text, nullable=False),
    Index("access_log_case_at", "case_id", "at"),
    Index("access_log_person_at", "person_id", "at"),
    Index("access_log_at", "at"),
)
"""Every time personal data was shown to someone (issue 19): append-only (a trigger refuses changes), outside the
hash chains; `fields` are `domain.disclosure` field names, `route` the method and route template."""
