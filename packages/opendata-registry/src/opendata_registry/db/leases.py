"""Leases: one holder at a time for a named job (the catalogue sync, one dataset's commit).

A lease is a row with a holder and an expiry; taking it is one conditional ``UPDATE`` (or an
``INSERT`` the first time), so processes and replicas that share the database take turns.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opendata_registry.db.models import Lease

__all__ = ["acquire_lease", "new_holder", "release_lease"]


async def acquire_lease(
    session: AsyncSession, name: str, holder: str, ttl: timedelta = timedelta(minutes=5)
) -> bool:
    """Take the lease ``name`` unless another holder's lease is still valid."""
    now = datetime.now(UTC)
    async with session.begin():
        result = await session.execute(
            update(Lease)
            .where(Lease.name == name, (Lease.until < now) | (Lease.holder == holder))
            .values(holder=holder, until=now + ttl)
        )
        if getattr(result, "rowcount", 0) == 1:
            return True
    try:
        async with session.begin():
            session.add(Lease(name=name, holder=holder, until=now + ttl))
    except IntegrityError:
        return False
    return True


async def release_lease(session: AsyncSession, name: str, holder: str) -> None:
    """Give the lease back."""
    async with session.begin():
        await session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(until=datetime(1970, 1, 1, tzinfo=UTC))
        )


def new_holder() -> str:
    """A random lease holder name for this process."""
    return secrets.token_hex(8)
