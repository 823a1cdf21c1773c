"""``python -m ils``: the same as the ``ils`` command."""

from ils.cli import app

app()
