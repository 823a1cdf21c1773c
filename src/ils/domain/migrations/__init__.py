"""The Alembic migrations of the ILS database: the domain tables and the job outbox together.

Run them through :mod:`ils.domain.migrate` (or ``ils db upgrade``); there is no alembic.ini.
"""
