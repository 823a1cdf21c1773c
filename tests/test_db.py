"""The database layer on both backends: exact money, UTC timestamps, URL handling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from ils.domain.db import Database, database_url
from ils.domain.models.accounts import Company, CompanyKind, Role, User
from ils.domain.models.types import to_money
from ils.queue.errors import ConfigurationError


async def test_companies_and_users_round_trip(db: Database):
    async with db.session() as s:
        company = Company(
            name="Clear Sight Opticians", slug="clear-sight", kind=CompanyKind.practice
        )
        s.add(company)
        await s.flush()
        s.add(User(company_id=company.id, email="a@clear.example", name="Ann",
                   password_hash="x", role=Role.optometrist))  # fmt: skip
    async with db.session() as s:
        user = (await s.execute(select(User))).scalar_one()
        assert user.role is Role.optometrist
        assert user.created_at.tzinfo is not None
        assert user.created_at <= dt.datetime.now(dt.UTC)


def test_money_is_rounded_half_up_to_the_cent():
    assert to_money("2.675") == Decimal("2.68")
    assert to_money(Decimal("0.005")) == Decimal("0.01")
    assert str(to_money(3)) == "3.00"


def test_database_url_defaults_to_sqlite_under_var_and_takes_postgres(tmp_path: Path):
    assert database_url({}, tmp_path) == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'ils.db'}"
    pg = database_url({"DATABASE_URL": "postgresql://u:p@db:5432/ils"}, tmp_path)
    assert pg == "postgresql+asyncpg://u:p@db:5432/ils"
    with pytest.raises(ConfigurationError, match="unsupported database 'mysql'"):
        database_url({"DATABASE_URL": "mysql://x/y"}, tmp_path)
