"""The job system proper: settings, broker, registry, producer, worker runtime and admin data.

Nothing under ``ils.queue`` imports the ILS domain, the job handlers or the web app.
"""
