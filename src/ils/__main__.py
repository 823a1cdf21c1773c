"""``python -m ils``: the same as the ``ils`` command (:func:`ils.cli_worker.main`)."""

from ils.cli_worker import main

main()
