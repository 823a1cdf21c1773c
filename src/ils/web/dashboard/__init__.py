"""The live queue dashboard at ``/admin/queues``: its pages, templates and static assets.

Everything it shows comes from the queue admin API and the ``/api/queue/events`` stream; the
pages themselves only decide who may see them. No third-party script or stylesheet is used.
"""

from __future__ import annotations

from ils.web.dashboard.pages import install_dashboard

__all__ = ["install_dashboard"]
