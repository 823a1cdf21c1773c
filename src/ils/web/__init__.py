"""The FastAPI app of ILS Jobs: the app factory, auth and roles, API routes, error mapping.

Build it with :func:`ils.web.app.create_app`; route authors find their dependencies (current
user, roles, per-request transaction, company scoping, audit) in :mod:`ils.web.auth`.
"""
