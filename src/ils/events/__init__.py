"""Domain events: the append-only event log (``events``), its catalog of typed schemas, recording
an event in the transaction of its change, and the subscribers that read the log.

The modules: :mod:`ils.events.catalog` (one schema per type and version),
:mod:`ils.events.envelope` (actor, subject, the envelope subscribers receive),
:mod:`ils.events.record` (writing one; the tables are :mod:`ils.domain.models.events`),
:mod:`ils.events.dispatcher` (subscribers and their cursors), :mod:`ils.events.subscribers` (the
deployment's subscribers). This package imports none of them, so the light ones load alone.
"""
