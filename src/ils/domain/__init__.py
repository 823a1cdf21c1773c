"""The ILS domain the jobs serve: SQLAlchemy models, the database, and the business services."""
