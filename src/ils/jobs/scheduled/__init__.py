"""The scheduled queue's job types and the schedules that fire them: per company, the nightly
anomaly scan, the weekly demand forecast, the daily briefing and the failed-jobs digest; for the
platform, the hourly retention; and the job that makes Redis's job schedulers equal to the
schedule rows (:mod:`ils.jobs.scheduled.reconcile`).

Each job type is declared with :func:`ils.jobs.scheduled.runs.scheduled`, which writes the run to
its schedule's row before the handler's own work. The declaring modules import nothing heavy:
the reconciler and its clock arithmetic are loaded by the processes that work this queue.
"""
