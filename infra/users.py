"""People and their bearer tokens. Tokens are stored only as peppered SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.model import FUND, JETRO, OPERATOR, OVERSIGHT, Actor, Office, Role
from infra.db import driver_row
from infra.tables import users

USER_NAMESPACE = uuid.UUID("6f1c2f4e-5a1b-4d43-9a57-2f3f0c5b9e11")


@dataclass(frozen=True)
class NewUser:
    name: str
    role: Role
    org: str
    email: str | None = None
    language: str = "en"


DEMO_USERS: tuple[NewUser, ...] = (
    NewUser("Anna Schmidt (Acme GmbH)", Role.APPLICANT, "acme-gmbh", "anna@acme.example", "en"),
    NewUser("Kenji Sato (JETRO)", Role.COORDINATOR, JETRO, "sato@jetro.example", "ja"),
    *(NewUser(f"Officer of {office}", Role.OFFICE_OFFICER, office, f"officer@{office}.example") for office in Office),
    *(NewUser(f"Manager of {office}", Role.OFFICE_MANAGER, office, f"manager@{office}.example") for office in Office),
    NewUser("Yuki Tanaka (Fund committee)", Role.FUND_COMMITTEE, FUND, "tanaka@fund.example", "ja"),
    NewUser("Aiko Mori (Auditor)", Role.AUDITOR, OVERSIGHT, "mori@audit.example", "ja"),
    NewUser("Operator", Role.ADMIN, OPERATOR, "ops@desk.example"),
)


def hash_token(token: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def demo_token(user: NewUser, pepper: str) -> str:
    """Demo tokens are derived from the pepper, so they can be printed at every start yet never stored."""
    digest = hmac.new(pepper.encode(), f"demo:{user.role}:{user.org}".encode(), hashlib.sha256).hexdigest()
    return f"demo-{user.role}-{digest[:24]}"


async def add_user(
    sessions: async_sessionmaker[AsyncSession],
    user: NewUser,
    pepper: str,
    *,
    token: str | None = None,
    user_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, str]:
    """Create the user (idempotent for a given id) and return its id and bearer token."""
    token = token or secrets.token_urlsafe(32)
    user_id = user_id or str(uuid.uuid4())
    async with sessions.begin() as session:
        await session.execute(
            insert(users)
            .values(
                id=user_id, name=user.name, role=user.role, org=user.org, email=user.email,
                language=user.language, token_hash=hash_token(token, pepper), created_at=datetime.now(UTC),
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=[users.c.id])
        )
    return user_id, token


async def ensure_demo_users(
    sessions: async_sessionmaker[AsyncSession], pepper: str
) -> list[tuple[NewUser, str]]:
    """One demo user per role and organisation; the same tokens at every start."""
    issued = []
    for user in DEMO_USERS:
        token = demo_token(user, pepper)
        await add_user(sessions, user, pepper, token=token, user_id=str(uuid.uuid5(USER_NAMESPACE, token)))
        issued.append((user, token))
    return issued


_TOKEN_HOLDER = """
SELECT u.id::text, u.name, u.role, u.org,
       CASE WHEN u.role = $2 THEN ARRAY(SELECT c.company FROM conflicts c WHERE c.member_id = u.id::text) END
FROM users u
WHERE u.token_hash = $1 AND u.revoked_at IS NULL AND (u.expires_at IS NULL OR u.expires_at > now())
"""
"""Who holds a valid token (`$1`, its hash), and, a member of the fund committee (`$2`), the companies they declared
a conflict of interest with (`infra.conflicts`): one statement, read by the driver, as every request asks it."""


async def actor_for_token(engine: AsyncEngine, token: str, pepper: str) -> Actor | None:
    """The person a valid (known, unexpired, unrevoked) token belongs to, with their declared conflicts."""
    row = await driver_row(engine, _TOKEN_HOLDER, hash_token(token, pepper), Role.FUND_COMMITTEE.value)
    if row is None:
        return None
    return Actor(id=row[0], name=row[1], role=Role(row[2]), org=row[3], conflicts=frozenset(row[4] or ()))


async def email_of(sessions: async_sessionmaker[AsyncSession], user_id: str) -> str | None:
    """The e-mail address notifications for this user go to (None when it has none)."""
    async with sessions() as session:
        found: str | None = await session.scalar(select(users.c.email).where(users.c.id == user_id))
    return found


@dataclass(frozen=True)
class UserRecord:
    id: str
    name: str
    role: str
    org: str
    email: str | None
    language: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


async def list_users(sessions: async_sessionmaker[AsyncSession]) -> list[UserRecord]:
    query = select(
        users.c.id, users.c.name, users.c.role, users.c.org, users.c.email, users.c.language,
        users.c.created_at, users.c.expires_at, users.c.revoked_at,
    ).order_by(users.c.role, users.c.org, users.c.name)
    async with sessions() as session:
        return [UserRecord(**row) for row in (await session.execute(query)).mappings()]


async def revoke_user(sessions: async_sessionmaker[AsyncSession], user_id: str) -> bool:
    """Revoke the user's token from now on; False when there is no such (unrevoked) user."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(users).where(users.c.id == user_id, users.c.revoked_at.is_(None)).values(revoked_at=func.now())
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Person:
    """A person as colleagues see them (`GET /api/users`, `GET /api/me`)."""

    id: str
    name: str
    role: str
    org: str
    language: str


PERSON_COLUMNS = (users.c.id, users.c.name, users.c.role, users.c.org, users.c.language)


async def person(sessions: async_sessionmaker[AsyncSession], user_id: str, *,
                 revoked_too: bool = False) -> Person | None:
    """The unrevoked user with this id (`revoked_too`: or one who has left, whose cases are still theirs)."""
    try:
        uuid.UUID(user_id)
    except ValueError:
        return None
    query = select(*PERSON_COLUMNS).where(users.c.id == user_id)
    if not revoked_too:
        query = query.where(users.c.revoked_at.is_(None))
    async with sessions() as session:
        row = (await session.execute(query)).first()
    return Person(**row._mapping) if row is not None else None


async def people_of(sessions: async_sessionmaker[AsyncSession], org: str, *,
                    revoked_too: bool = False) -> list[Person]:
    """The unrevoked users of an organisation (`revoked_too`: and those who have left), by name."""
    query = select(*PERSON_COLUMNS).where(users.c.org == org).order_by(users.c.name, users.c.id)
    if not revoked_too:
        query = query.where(users.c.revoked_at.is_(None))
    async with sessions() as session:
        return [Person(**row) for row in (await session.execute(query)).mappings()]
