"""The registry read into PostgreSQL's shared buffers after a bulk load, so the first officers' matching is not
the one that pays for reading it (issue 23).

A seed that rebuilds the registry's indexes (`infra.sme_bulk.bulk_add_smes`; imports write through the buffers and
rebuild nothing) writes past the shared buffers: COPY through a small ring of them, `CREATE INDEX` straight to its
files. Matching right after it then read each page of the table and of its indexes from the operating system on
first touch: p99 768 ms at 3.4 million SMEs right after a seed, 154 ms with the registry warmed. `pg_prewarm` (the
extension migration 0035 creates where the server has it) reads the indexes, then the table, into the buffers;
`autoprewarm` (`app.embedded_postgres`) keeps them there across a restart. Where the registry would not fit in a
share of the buffers, nothing is read: it would only push out itself and everything else.
"""

from __future__ import annotations

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

log = structlog.get_logger(__name__)

WARM_SHARE = 0.75
"""The largest share of `shared_buffers` the registry (table and indexes) may take to be read in."""

_PREWARM = "pg_prewarm(regclass,text,text,bigint,bigint)"
_RELATIONS = """
SELECT r.oid::regclass::text AS name, pg_relation_size(r.oid) AS bytes
FROM (SELECT indexrelid AS oid, 0 AS heap FROM pg_index WHERE indrelid = 'smes'::regclass
      UNION ALL SELECT 'smes'::regclass::oid, 1) r
ORDER BY r.heap, r.oid
"""
_BUFFERS = ("SELECT setting::bigint * current_setting('block_size')::bigint FROM pg_settings "
            "WHERE name = 'shared_buffers'")


async def warm_registry(conn: AsyncConnection) -> int:
    """Read the registry's indexes, then its table, into the shared buffers; the bytes read (0 where the server
    has no `pg_prewarm` or the registry is larger than `WARM_SHARE` of its buffers, or the server refused it). Runs
    in the caller's transaction, so it sees indexes that transaction has just built; a refusal leaves that
    transaction usable."""
    if (await conn.execute(text("SELECT to_regprocedure(:f)"), {"f": _PREWARM})).scalar_one() is None:
        return 0
    relations = (await conn.execute(text(_RELATIONS))).all()
    size = sum(int(bytes_) for _, bytes_ in relations)
    if size > WARM_SHARE * int((await conn.execute(text(_BUFFERS))).scalar_one()):
        return 0
    try:  # in a savepoint: a prewarm the server refuses (its function revoked, a timeout) costs no seed
        async with conn.begin_nested():
            for name, _ in relations:
                await conn.execute(text("SELECT pg_prewarm(CAST(:name AS regclass))"), {"name": name})
    except DBAPIError as error:
        log.warning("the registry was not read into the shared buffers", error=str(error.orig)[:200])
        return 0
    return size
