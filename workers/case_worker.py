"""The case worker: the case workflow and the activities it calls, wired to their dependencies."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.matching import Matching
from activities.records import CaseRecords
from workflows.case import CaseWorkflow


def build_worker(client: Client, task_queue: str, sessions: async_sessionmaker[AsyncSession]) -> Worker:
    records = CaseRecords(sessions)
    matching = Matching(sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        activities=[records.record_event, matching.find_candidates],
    )
