"""ILS Jobs: the background job system of the Integrated Lens System.

The package is split into ``ils.queue`` (the domain-free job system), ``ils.jobs`` (the ILS job
types, helpers and handlers), ``ils.web`` (the FastAPI app) and ``ils.cli`` (the ``ils`` command).
"""

__version__ = "0.1.0"
