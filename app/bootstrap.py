"""Wire the parts once: database (migrated), Temporal client, worker, API; with one-line start-up errors."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from app.schedules import ensure_verification_schedule
from infra import migrate
from infra.checkpoints import anchor_legacy_trail
from infra.db import create_engine, session_factory
from infra.settings import Settings
from infra.smtp import SmtpSettings
from infra.startup import StartupError
from infra.temporal import connect
from services import incidents
from services.consent_courier import ConsentCourier
from services.context import Services
from services.mail_relay import MailRelay
from workers.case_worker import WorkerTuning, build_worker

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger(__name__)


def _where(url: str) -> str:
    parts = urlsplit(url.replace("+asyncpg", ""))
    if parts.hostname is None and "host=" in parts.query:  # a Unix-domain socket's folder
        query = dict(pair.partition("=")[::2] for pair in parts.query.split("&"))
        return f"{query['host']} (socket, port {query.get('port') or 5432}){parts.path}"
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


async def open_database(settings: Settings, *, run_migrations: bool) -> AsyncEngine:
    engine = create_engine(settings)
    try:
        if run_migrations:
            await asyncio.wait_for(migrate.upgrade(engine), 60)
        else:
            async with engine.connect():
                pass
    except (OSError, OperationalError, DBAPIError, TimeoutError) as error:
        await engine.dispose()
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise StartupError(
            f"cannot reach the database at {_where(settings.effective_database_url)}: {reason}"
        ) from None
    return engine


async def open_temporal(settings: Settings) -> Client:
    try:
        return await asyncio.wait_for(connect(settings), 20)
    except StartupError:  # already one clear line (e.g. a TLS file that is not there)
        raise
    except (RuntimeError, TimeoutError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StartupError(f"cannot reach Temporal at {settings.effective_temporal_address}: {reason}") from None


def smtp_settings(settings: Settings) -> SmtpSettings:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpSettings(
        host=settings.effective_smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=password,
        starttls=settings.smtp_starttls,
    )


def mail_relay(settings: Settings, engine: AsyncEngine, temporal: Client) -> MailRelay:
    return MailRelay(
        engine, smtp_settings(settings), temporal, settings.audit_keys.signer, senders=settings.mail_senders,
        permanent_tries=settings.mail_permanent_tries,
        longest_backoff=timedelta(seconds=settings.mail_max_backoff_seconds), keyring=settings.audit_keys.keyring,
    )


def worker_tuning(settings: Settings) -> WorkerTuning:
    return WorkerTuning(
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
    )


@dataclass
class Parts:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    temporal: Client

    def services(self) -> Services:
        return Services(self.settings, self.engine, self.sessions, self.temporal)

    def app(self) -> FastAPI:
        """The API on these parts. Imported here: only `alliance run` and `alliance api` serve it, and importing it
        is about 40% of every other command's start-up."""
        from api.app import create_app

        return create_app(self.services())

    async def keep_schedules(self) -> None:
        """The Schedules this installation runs (idempotent: every worker and `alliance run` call it)."""
        await ensure_verification_schedule(
            self.temporal, self.settings.audit_verification_cron, self.settings.temporal_task_queue
        )

    async def anchor_legacy_trail(self) -> None:
        """Hold the events recorded before signing began with a first signed checkpoint, if there is none yet and
        no event is signed (`infra.checkpoints.anchor_legacy_trail`; every worker calls it as it starts)."""
        try:
            await anchor_legacy_trail(self.engine, self.settings.audit_keys, self.settings.checkpoint_log,
                                      datetime.now(UTC), url=self.settings.audit_checkpoint_url)
        except OSError as error:  # stored all the same; the next checkpoint is logged with its `prev`
            log.error("the first checkpoint is stored, but the checkpoint log could not be written", error=str(error))

    async def watch_incidents(self, stop: asyncio.Event) -> None:
        """Scan Temporal for stuck case steps every `INCIDENT_SCAN_SECONDS` until `stop` (workers run this)."""
        if self.settings.incident_scan_seconds > 0:
            await incidents.watch(self.temporal, self.engine, self.settings.incident_scan_seconds, stop)

    def mail_relay(self) -> MailRelay:
        """The relay that sends the outbox (workers run it beside the case worker)."""
        return mail_relay(self.settings, self.engine, self.temporal)

    async def relay_mail(self, stop: asyncio.Event) -> None:
        """Send the outbox until `stop` (workers run this)."""
        await self.mail_relay().run(stop)

    async def tell_withdrawals(self, stop: asyncio.Event) -> None:
        """Tell open cases the withdrawals of consent still to tell, until `stop` (workers run this)."""
        await ConsentCourier(self.engine, self.temporal).run(stop)

    def worker(self) -> Worker:
        return build_worker(
            self.temporal,
            self.settings.temporal_task_queue,
            self.engine,
            self.settings.match_weights,
            keys=self.settings.audit_keys,
            checkpoint_log=self.settings.checkpoint_log,
            checkpoint_url=self.settings.audit_checkpoint_url,
            tuning=worker_tuning(self.settings),
        )


async def open_parts(settings: Settings, *, run_migrations: bool) -> Parts:
    engine = await open_database(settings, run_migrations=run_migrations)
    try:
        temporal = await open_temporal(settings)
    except StartupError:
        await engine.dispose()
        raise
    return Parts(settings, engine, session_factory(engine), temporal)
