"""`alliance incidents`: the steps of cases that keep failing, and retrying a case once the cause is fixed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.bootstrap import open_parts
from app.cli_support import _run, _settings, an_id, console
from domain.errors import CaseNotFound
from services import incidents

incidents_app = typer.Typer(help="Stuck cases: steps that keep failing.", no_args_is_help=True)


@incidents_app.command("list")
def incidents_list(
    scan: Annotated[bool, typer.Option(help="Scan Temporal first (workers do every INCIDENT_SCAN_SECONDS).")] = False,
) -> None:
    """Open incidents, the most recent failure first; exit status 1 when there are any."""

    async def main() -> None:
        parts = await open_parts(_settings(), run_migrations=False)
        try:
            if scan:
                await incidents.scan(parts.temporal, parts.engine)
            found = await incidents.open_incidents(parts.engine)
        finally:
            await parts.engine.dispose()
        table = Table("case", "step", "kind", "attempts", "first failure", "last failure", "error")
        for i in found:
            table.add_row(i.case_id or i.workflow_id, i.step, i.kind, str(i.attempts),
                          f"{i.first_failure_at:%Y-%m-%d %H:%M:%S}", f"{i.last_failure_at:%Y-%m-%d %H:%M:%S}", i.error)
        console.print(table)
        console.print(f"{len(found)} open incident(s)")
        if found:
            raise typer.Exit(1)

    _run(main())


@incidents_app.command("retry")
def incidents_retry(case_id: Annotated[str, typer.Argument(help="The case whose failed steps to try again.")]) -> None:
    """Ask the case's workflow to try its failed steps again now, and resolve its open incidents."""
    case_id = an_id(case_id, "a case id")

    async def main() -> None:
        parts = await open_parts(_settings(), run_migrations=False)
        try:
            resolved = await incidents.retry(parts.temporal, parts.engine, case_id)
        except CaseNotFound as unknown:
            console.print(f"[red]error:[/] {unknown.detail}", highlight=False)
            raise typer.Exit(2) from None
        finally:
            await parts.engine.dispose()
        console.print(f"asked case {case_id} to retry; {resolved} incident(s) resolved")

    _run(main())
