"""Alembic environment: the URL comes from settings (or a connection handed in), never from alembic.ini."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import infra.audit_tables  # noqa: F401 -- its tables join `metadata`
from infra.db import create_engine
from infra.settings import Settings
from infra.tables import metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_engine(Settings())
    async with engine.connect() as conn:
        await conn.run_sync(run_with)
        await conn.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    asyncio.run(run_online())
