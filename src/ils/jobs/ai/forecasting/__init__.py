"""Demand forecasts a lab can order from: each product's demand pattern classified, its model
chosen by rolling-origin cross-validation among intermittent-demand methods (statsforecast) and
the seasonal-naive and zero baselines, sample paths for daily bands and lead-time totals, and the
reorder quantity at a service level.

Runs in the model pool's processes (:mod:`ils.jobs.ai.pool`); only :mod:`.models` imports
statsforecast, and :mod:`.reorder` is pure Python for the web app and the job.
"""
