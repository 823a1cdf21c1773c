"""The Alembic migrations of the ILS database: the domain tables and the job system's own
(outbox, dead letters) together.

Run them through :mod:`ils.domain.migrate` (or ``ils db upgrade``); there is no alembic.ini.
"""

# The newest revision: what the code needs. Kept here so the start-up check of `ils serve` and
# `ils worker` (ils.domain.schema_check) need not load Alembic; a test keeps it equal to
# Alembic's head.
HEAD_REVISION = "0011"
