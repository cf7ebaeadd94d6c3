"""`alliance audit …`: verify the trail, anchor its heads, check an evidence pack, archive closed cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli_support import _with_engine, an_id, console
from domain.chain_verification import ChainReport
from domain.signing import Keyring
from domain.text_rules import VISIBLE
from domain.verification import OVERSIGHT_CHAIN
from infra.settings import Settings
from infra.startup import StartupError

audit_app = typer.Typer(help="Check the audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    case: Annotated[str | None, typer.Option(help="One case id; omit for every case.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every chain, the oversight chain too (the default).")] = False,
    every_signature: Annotated[bool, typer.Option(
        "--every-signature", help="Check each event's signature, not only each case's head's (which vouches for "
                                  "the chain before it; README, \"For auditors\").")] = False,
) -> None:
    """Recompute every case's hash chain, check its signatures (each case's head's, which vouches for the events
    before it, and every event's of a case whose head does not hold; with --every-signature each event's) and hold
    each trail against the latest checkpoint (with a progress bar), and (for every case) the checkpoint table
    against the checkpoint log; exit 1 if any chain is broken or the log contradicts the table."""
    if case and every:
        console.print("[red]error:[/] give --case or --all, not both")
        raise typer.Exit(2)
    case = an_id(case, "a case id") if case is not None else None
    from rich.progress import Progress

    from infra.audit_trail import case_ids, case_on_record, case_rows
    from infra.chain_verdicts import case_verdict
    from infra.db import session_factory
    from infra.stored_checkpoints import case_anchor, latest_anchors, log_contradictions
    from infra.streamed_verification import verify_every_chain

    async def reports(engine: AsyncEngine, keyring: Keyring) -> AsyncIterator[tuple[str, ChainReport]]:
        sessions = session_factory(engine)
        if case:
            rows, anchor = await case_rows(sessions, case), await case_anchor(engine, case, keyring)
            if not rows and anchor is None and not await case_on_record(engine, case):
                console.print(f"[red]error:[/] unknown case {case}: no audit event, checkpoint or case has that id")
                raise typer.Exit(2)
            every = every_signature or case == OVERSIGHT_CHAIN  # its writer chains onto the head it reads
            yield case, case_verdict(case, rows, keyring, anchor, every_signature=every)
            return
        anchors = await latest_anchors(engine, keyring)
        # one cursor for the whole trail
        async for found in verify_every_chain(sessions, keyring, anchors, every_signature=every_signature):
            yield found

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        total = 1 if case else len(await case_ids(session_factory(engine)))
        checked = broken = 0
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("verifying", total=total)
            async for case_id, report in reports(engine, settings.audit_keys.keyring):
                checked += 1
                if not report.valid:
                    broken += 1
                    console.print(f"[red]broken[/] {case_id}: event {report.first_broken_seq}: {report.reason}")
                progress.advance(task)
        against_log = [] if case else await log_contradictions(engine, settings.checkpoint_log,
                                                                 settings.audit_keys.keyring)
        for problem in against_log:
            console.print(f"[red]checkpoint log[/] {problem}", highlight=False)
        console.print(f"{checked} case(s) verified, {broken} broken"
                      + (f"; the checkpoint log contradicts the database {len(against_log)} time(s)"
                         if against_log else ""))
        if broken or against_log:
            raise typer.Exit(1)

    _with_engine(main)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint over every case's head whose signature holds (an unsigned or forged head is left out),
    store it and append it to the checkpoint log."""
    from infra.checkpoint_sink import shown, undelivered
    from infra.checkpoints import take_checkpoint

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        url = settings.audit_checkpoint_url
        try:
            checkpoint = await take_checkpoint(engine, settings.audit_keys, settings.checkpoint_log, datetime.now(UTC),
                                               url=url)
        except OSError as error:
            raise StartupError(f"the checkpoint is stored, but the checkpoint log could not be written: {error}"
                               ) from None
        where = shown(url) if url else ""
        failed = url is not None and checkpoint.id in await undelivered(engine, url)
        console.print(f"{checkpoint.name}: {checkpoint.cases} case(s), root {checkpoint.root}, "
                      f"logged to {settings.checkpoint_log}" + (f" and sent to {where}" if url and not failed else ""))
        if failed:
            raise StartupError(f"{checkpoint.name} is stored and logged, but was not delivered to {where}: an open "
                               "incident (`alliance incidents list`); `alliance audit send-checkpoints` sends it again")

    _with_engine(main)


@audit_app.command("anchor-unsigned")
def audit_anchor_unsigned(
    by: Annotated[str, typer.Option(help="Who decides (your name): recorded on the oversight chain.")],
    reason: Annotated[str, typer.Option(help="Why these trails are from before signing (e.g. the upgrade).")],
    yes: Annotated[bool, typer.Option("--yes", help="Anchor them; without it, only list what would be.")] = False,
) -> None:
    """Hold by a new checkpoint the unsigned trails no checkpoint holds (events recorded before signing, in a
    deployment that was upgraded after it began signing), once you have made sure they are: the database alone
    cannot tell them from signed events stripped. Only trails whose links and hashes hold are anchored (each named);
    any other is listed and stays broken. Who and why go on the oversight chain with the checkpoint's id. Exit 1
    when a trail is left broken."""
    from infra.unsigned_trails import anchor_unsigned_trails, survey

    by, reason = by.strip(), reason.strip()
    if VISIBLE.search(by) is None or VISIBLE.search(reason) is None:  # a zero-width space is no name
        console.print("[red]error:[/] --by and --reason must say something: they go on the oversight chain")
        raise typer.Exit(2)

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        keys = settings.audit_keys
        if yes:
            try:
                found = await anchor_unsigned_trails(engine, keys, settings.checkpoint_log, datetime.now(UTC), by=by,
                                                     reason=reason, url=settings.audit_checkpoint_url)
            except OSError as error:
                raise StartupError(f"the checkpoint is stored, but the checkpoint log could not be written: {error}"
                                   ) from None
        else:
            found = await survey(engine, keys, settings.checkpoint_log)
        for head in found.anchor:  # each by name: the operator vouches for these, not for a count
            console.print(f"{'anchored' if found.checkpoint is not None else 'would anchor'} {head.case_id}: "
                          f"{head.seq} unsigned event(s)", highlight=False)
        for case_id, why in found.refused:
            console.print(f"[red]left broken[/] {case_id}: {escape(why)}", highlight=False)
        if found.checkpoint is not None:
            console.print(f"{found.checkpoint.name} holds {found.checkpoint.cases} unsigned trail(s), recorded on "
                          f"the oversight chain as anchored by {escape(by)}", highlight=False)
        elif found.anchor and not yes:
            console.print(f"{len(found.anchor)} unsigned trail(s) would be anchored; run again with --yes",
                          highlight=False)
        else:
            console.print("no unsigned trail to anchor: every one is held by a checkpoint or left broken",
                          highlight=False)
        if found.refused:
            raise typer.Exit(1)

    _with_engine(main)


@audit_app.command("send-checkpoints")
def audit_send_checkpoints() -> None:
    """Send AUDIT_CHECKPOINT_URL every checkpoint it has not received, oldest first: those not delivered, and those
    taken before it was set; exit 1 at the first still not delivered (the rest wait for the next run)."""
    from infra.checkpoints import send_undelivered

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        url = settings.audit_checkpoint_url
        if not url:
            raise StartupError("AUDIT_CHECKPOINT_URL is not set: there is nowhere to send checkpoints")
        sent = 0
        async for checkpoint, problem in send_undelivered(engine, url):
            if problem is not None:
                console.print(f"[red]not delivered[/] {escape(problem)}", highlight=False)
                raise typer.Exit(1)
            sent += 1
            console.print(f"{checkpoint.name} delivered", highlight=False)
        console.print(f"{sent} checkpoint(s) delivered; every checkpoint has reached it", highlight=False)

    _with_engine(main)


@audit_app.command("check-pack")
def audit_check_pack(
    file: Annotated[Path, typer.Argument(help="An evidence pack (`GET /api/cases/{id}/evidence`).")],
    key: Annotated[
        list[str] | None, typer.Option(help="A trusted public key (64 hex); repeatable. Default: the pack's own.")
    ] = None,
) -> None:
    """Check an evidence pack offline (no database, no network); exit 1 naming every problem and where."""
    from infra.evidence_check import check_pack

    problems, summary = check_pack(str(file), key or None)
    results = Console(soft_wrap=True)  # the check's answer, as `check_pack.py` prints it: standard output
    for problem in problems:
        results.print(f"[red]FAILED[/] {escape(problem)}", highlight=False)
    if problems:
        raise typer.Exit(1)
    results.print(escape(summary), highlight=False)


@audit_app.command("archive")
def audit_archive(
    to: Annotated[Path, typer.Option(help="Where each archived case's export (JSON Lines) is written.")] = Path(
        "archive"
    ),
    older_than_years: Annotated[
        int | None, typer.Option(min=0, help="Closed longer than this (default: RETENTION_YEARS).")
    ] = None,
) -> None:
    """Archive closed cases past retention: export, verify, then erase their personal contact data; delete the
    access log's rows and the done consent tellings past retention."""
    from infra.retention import archive_closed_cases

    async def main(settings: Settings, engine: AsyncEngine) -> None:
        years = settings.retention_years if older_than_years is None else older_than_years
        now = datetime.now(UTC)
        report = await archive_closed_cases(engine, now - timedelta(days=round(365.25 * years)), to, years, now,
                                            settings.audit_keys)
        for case_id in report.archived:
            console.print(f"[green]archived[/] {case_id} → {to / f'case-{case_id}.jsonl'}")
        for case_id, why in report.refused.items():
            console.print(f"[red]not archived[/] {case_id}: {why}")
        console.print(f"{len(report.archived)} case(s) archived, {len(report.refused)} refused; "
                      f"{report.access_log_deleted} access-log row(s) and {report.consent_tellings_deleted} done "
                      "consent telling(s) past retention deleted")
        if report.refused:
            raise typer.Exit(1)

    _with_engine(main)
