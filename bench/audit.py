"""Audit trail benchmark: verification and export throughput over a million events.

`make bench-audit` (BENCH_ARGS="--events 1000000 --events-per-case 10"). Starts its own embedded
PostgreSQL, loads valid hash chains (made with `domain.audit.make_entry`, written with COPY), then times

* verification case by case, as `alliance audit verify --case` does it (`stored_entries` + `verify_chain`), and
  the streaming verifier (`verify_every_chain`: one ordered cursor), as `alliance audit verify` runs it (each
  case's head signature, which vouches for the chain before it) and with `--every-signature`;
* the full export (`infra.audit_export.export_audit`) as JSON Lines and as CSV, into a sink that only
  counts bytes, with the process's memory sampled as it goes (it must stay flat).

Every event is signed as the product signs it; every event is linked and hashed by every verifier. Then, as
the nightly run goes on: a verified checkpoint over the heads found intact, 1% more events (new cases), and the
nightly verification (only the head signatures of the cases changed since the verified checkpoint). The last
line is `RESULT verify_events_per_s=<streaming verification, head signatures>
export_events_per_s=<JSON Lines export> nightly_verify_events_per_s=<the nightly run, events of the whole
trail per second> every_signature_verify_events_per_s=<streaming verification, every signature>`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import psutil
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.stack import bench_database
from domain.audit import GENESIS_HASH, make_entry, sign
from domain.chain_verification import verify_chain
from domain.checkpoints import Head
from domain.model import FUND, JETRO, Office, Role
from domain.samples import sample_filing
from domain.signing import EVENT_CONTEXT, AuditKeys, Keyring, Signer
from infra.audit_export import ExportFilter, ExportFormat, export_audit
from infra.audit_trail import case_ids, stored_entries
from infra.checkpoints import take_checkpoint
from infra.db import session_factory
from infra.logging import configure_logging
from infra.settings import Settings
from infra.stored_checkpoints import latest_anchors
from infra.streamed_verification import verify_every_chain

console = Console()
COPY_BATCH = 20_000
COLUMNS = ["case_id", "seq", "type", "actor", "at", "stage_before", "stage_after", "payload", "prev_hash", "hash",
           "hash_version", "personal", "personal_salt", "personal_digest", "key_id", "signature"]
MB = 1024 * 1024


def _actor(role: Role, org: str, name: str) -> dict[str, str]:
    return {"id": f"bench-{role}", "name": name, "role": str(role), "org": org}


APPLICANT = _actor(Role.APPLICANT, "acme-gmbh", "Anna Schmidt (Acme GmbH)")
COORDINATOR = _actor(Role.COORDINATOR, JETRO, "Kenji Sato (JETRO)")
OFFICER = _actor(Role.OFFICE_OFFICER, Office.SBIC, "Officer of sbic")
FUND_MEMBER = _actor(Role.FUND_COMMITTEE, FUND, "Yuki Tanaka (Fund committee)")
CANDIDATES = [
    {"sme_id": f"10100010000{n:02d}", "name": f"Aichi Precision Works {n}", "score": round(0.95 - n / 40, 4),
     "factors": {"technology_fit": 1.0, "industry": 1.0, "region": 0.5, "size_fit": 0.875, "readiness": 0.75},
     "reason": "precision machining + sensors match 2 of 2 sought technologies; Aichi; 120 employees; ISO 9001"}
    for n in range(5)
]

# A case's life as the product records it: (type, actor, stage after, payload). Longer cases add notes.
LIFE: list[tuple[str, dict[str, str], str, dict[str, Any]]] = [
    ("filed", APPLICANT, "screening", sample_filing()),
    ("relay", COORDINATOR, "office_review", {"offices": ["sme_support_japan", "sbic"], "note": "strong tech fit"}),
    ("accept_case", OFFICER, "matching", {"note": "we take it"}),
    ("run_matching", OFFICER, "matching", {"criteria": {"limit": 5}, "candidates": CANDIDATES}),
    ("shortlist", OFFICER, "matching", {"sme_ids": ["1010001000000", "1010001000001"]}),
    ("record_response", OFFICER, "matching", {"sme_id": "1010001000000", "interested": True, "note": "keen"}),
    ("select_partner", OFFICER, "fund_consideration", {"sme_ids": ["1010001000000"]}),
    ("propose_investment", OFFICER, "investment_decision",
     {"route": "co_investment", "amount_jpy": 200_000_000, "rationale": "opens EU channels"}),
    ("approve_investment", FUND_MEMBER, "closed", {"note": "approved", "outcome": "alliance_formed_with_fund"}),
]
NOTE = ("add_note", OFFICER, "matching", {"text": "call the CFO on Monday"})


def case_events(rng: random.Random, start: datetime, count: int, signer: Signer) -> Iterator[tuple[Any, ...]]:
    """One case's chain of `count` events, as COPY records (JSON as text); hash version 2, as the product
    writes them (the filing's contact kept apart under a salted digest, each event signed)."""
    case_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    prev, stage, at = GENESIS_HASH, None, start
    for seq in range(1, count + 1):
        kind, actor, after, payload = LIFE[seq - 1] if seq <= len(LIFE) else NOTE
        after = stage if kind == "add_note" and stage else after
        entry = sign(make_entry(case_id=case_id, seq=seq, type=kind, actor=actor, at=at, stage_before=stage,
                                stage_after=after, payload=payload, prev_hash=prev,
                                salt=f"{rng.getrandbits(128):032x}"), signer)
        personal = None if entry.personal is None else json.dumps(entry.personal)
        yield (case_id, seq, kind, json.dumps(actor), at, stage, after, json.dumps(entry.payload), prev, entry.hash,
               entry.hash_version, personal, entry.personal_salt, entry.personal_digest, entry.key_id, entry.signature)
        prev, stage = entry.hash, after
        at += timedelta(minutes=rng.randint(5, 60 * 72), microseconds=rng.randint(0, 999_999))


def all_events(events: int, per_case: int, seed: int, signer: Signer) -> Iterator[tuple[Any, ...]]:
    """Cases filed at random over two years, so their events interleave in time as they would."""
    rng = random.Random(seed)
    origin = datetime(2024, 4, 1, tzinfo=UTC)
    left = events
    while left > 0:
        start = origin + timedelta(seconds=rng.randint(0, 2 * 365 * 86_400), microseconds=rng.randint(0, 999_999))
        yield from case_events(rng, start, min(per_case, left), signer)
        left -= per_case


async def load(engine: AsyncEngine, events: int, per_case: int, keys: AuditKeys,
               advance: Callable[[int], None], seed: int = 1) -> None:
    batch: list[tuple[Any, ...]] = []
    async with engine.begin() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        for record in all_events(events, per_case, seed=seed, signer=keys.signer):
            batch.append(record)
            if len(batch) == COPY_BATCH:
                await driver.copy_records_to_table("audit_events", records=batch, columns=COLUMNS)
                advance(len(batch))
                batch = []
        if batch:
            await driver.copy_records_to_table("audit_events", records=batch, columns=COLUMNS)
            advance(len(batch))


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


@dataclass
class Timed:
    events: int
    seconds: float
    broken: int = 0
    bytes: int = 0
    rss_growth: int = 0

    @property
    def rate(self) -> str:
        return f"{self.events / self.seconds:,.0f} events/s"


async def verify_per_case(engine: AsyncEngine, keyring: Keyring, limit: int | None) -> Timed:
    """Case by case as `alliance audit verify --case` does it: one query and one `verify_chain` (head signature)
    per case."""
    sessions = session_factory(engine)
    started = time.perf_counter()
    ids = await case_ids(sessions)
    ids = ids[:limit] if limit else ids
    events = broken = 0
    with progress_bar() as progress:
        task = progress.add_task("verifying case by case", total=len(ids))
        for case_id in ids:
            report = verify_chain(await stored_entries(sessions, case_id), keyring, every_signature=False)
            events, broken = events + report.events, broken + (not report.valid)
            progress.advance(task)
    return Timed(events, time.perf_counter() - started, broken)


async def verify_streaming(engine: AsyncEngine, keyring: Keyring, total: int, heads: list[Head] | None = None,
                           nightly: bool = False, every: bool = False) -> Timed:
    """`verify_every_chain` over the whole trail: each case's head signature (`every`: each event's), or
    (`nightly`) as the nightly run does it, only the head signatures of cases changed since the latest verified
    checkpoints (every event still linked and hashed)."""
    sessions = session_factory(engine)
    started = time.perf_counter()
    anchors = await latest_anchors(engine, keyring)
    starts = await latest_anchors(engine, keyring, verified=True) if nightly else None
    events = broken = 0
    with progress_bar() as progress:
        task = progress.add_task("verifying from one cursor" + (" (nightly)" if nightly else ""), total=total)
        async for _, report in verify_every_chain(sessions, keyring, anchors, starts=starts, heads=heads,
                                                  every_signature=every):
            events, broken = events + report.events, broken + (not report.valid)
            progress.advance(task, report.events)
    return Timed(events, time.perf_counter() - started, broken)


def signature_checks(keys: AuditKeys, count: int = 5_000) -> Timed:
    """Ed25519 verifications alone, as `--every-signature` does one per event: the floor under its cost."""
    signature = keys.signer.sign(EVENT_CONTEXT, GENESIS_HASH)
    started = time.perf_counter()
    for _ in range(count):
        assert keys.keyring.check(EVENT_CONTEXT, GENESIS_HASH, keys.signer.key_id, signature) is None
    return Timed(count, time.perf_counter() - started)


async def export_to_sink(engine: AsyncEngine, format: ExportFormat, keyring: Keyring, total: int) -> Timed:
    """The full export into a sink that only counts bytes; the manifest's count is checked at the end."""
    process = psutil.Process()
    baseline = peak = process.memory_info().rss
    size, last = 0, b""
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(f"exporting {format}", total=total)
        async for chunk in export_audit(engine, format, ExportFilter(), keyring):
            size, last = size + len(chunk), chunk
            progress.advance(task, chunk.count(b"\n"))
            peak = max(peak, process.memory_info().rss)
    seconds = time.perf_counter() - started
    manifest = json.loads(last.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].removeprefix(b"#manifest,"))["manifest"]
    return Timed(int(manifest["count"]), seconds, bytes=size, rss_growth=peak - baseline)


def add(table: Table, measure: str, run: Timed, note: str = "") -> None:
    megabytes = f"{run.bytes / MB / run.seconds:,.1f}" if run.bytes else ""
    table.add_row(measure, f"{run.events:,}", f"{run.seconds:,.1f}", f"{run.events / run.seconds:,.0f}", megabytes,
                  note)


async def run(events: int, per_case: int, per_case_limit: int | None) -> None:
    configure_logging(level="WARNING")  # the export's own log line would cut through the progress bars
    settings = Settings()
    table = Table("measure", "events", "s", "events/s", "MB/s", "note",
                  title=f"audit trail: {events:,} events, {per_case} per case")
    async with bench_database(console, settings) as engine:
        with progress_bar() as progress:
            task = progress.add_task(f"loading {events:,} events (COPY)", total=events)
            started = time.perf_counter()
            await load(engine, events, per_case, settings.audit_keys, lambda n: progress.advance(task, n))
            loaded = Timed(events, time.perf_counter() - started)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE audit_events"))
            stored = (await conn.execute(text("SELECT pg_total_relation_size('audit_events')"))).scalar_one()
        add(table, "load: make_entry + COPY", loaded, f"{stored / MB:,.0f} MB stored with indexes")

        run = await verify_per_case(engine, settings.audit_keys.keyring, per_case_limit)
        scope = f"first {per_case_limit:,} cases; " if per_case_limit else ""
        add(table, "verify case by case (`--case`)", run, f"{scope}{run.broken} broken; a query per case")
        add(table, "Ed25519 verification alone", signature_checks(settings.audit_keys),
            "one per event: the most a verifier checking every signature can reach")
        every = await verify_streaming(engine, settings.audit_keys.keyring, events, every=True)
        add(table, "verify streaming, every signature", every,
            f"{every.broken} broken; one cursor; `alliance audit verify --every-signature`")
        heads: list[Head] = []
        streamed = await verify_streaming(engine, settings.audit_keys.keyring, events, heads)
        add(table, "verify streaming (verify_every_chain)", streamed,
            f"{streamed.broken} broken; one cursor; each head's signature vouches for its chain "
            "(`alliance audit verify`)")
        await take_checkpoint(engine, settings.audit_keys, None, datetime.now(UTC), verified=heads)
        added = max(per_case, events // 100)  # a day's new cases after the night's verified checkpoint
        await load(engine, added, per_case, settings.audit_keys, lambda n: None, seed=2)
        nightly = await verify_streaming(engine, settings.audit_keys.keyring, events + added, nightly=True)
        add(table, "verify as the nightly run", nightly,
            f"{nightly.broken} broken; the heads of {added:,} new events' cases checked, the others by the "
            "verified checkpoint; every event linked and hashed")
        exported: dict[str, Timed] = {}
        for format in ("jsonl", "csv"):
            run = exported[format] = await export_to_sink(engine, format, settings.audit_keys.keyring, events)
            add(table, f"export {format} (export_audit)", run,
                f"{run.bytes / MB:,.0f} MB; RSS +{run.rss_growth / MB:,.0f} MB while exporting")
    console.print(table)
    result = (f"RESULT verify_events_per_s={streamed.events / streamed.seconds:.0f} "
              f"export_events_per_s={exported['jsonl'].events / exported['jsonl'].seconds:.0f} "
              f"nightly_verify_events_per_s={nightly.events / nightly.seconds:.0f} "
              f"every_signature_verify_events_per_s={every.events / every.seconds:.0f}")
    console.print(result, soft_wrap=True, highlight=False)  # one line, however narrow the terminal


def main(
    events: Annotated[int, typer.Option("--events", min=10, help="Audit events loaded.")] = 1_000_000,
    per_case: Annotated[int, typer.Option("--events-per-case", min=1, help="Events in each case's chain.")] = 10,
    per_case_limit: Annotated[
        int, typer.Option("--per-case-cases", min=0,
                          help="Cases the per-case verifier checks (0: all); its rate needs no more than 10,000.")
    ] = 10_000,
) -> None:
    asyncio.run(run(events, per_case, per_case_limit or None))


if __name__ == "__main__":
    typer.run(main)
