"""Outgoing webhooks: the ``deliver-webhook`` job type, the Standard Webhooks signing, the SSRF
guard every delivery passes, and the fan-out of a domain event to its company's endpoints.

The declaration (:mod:`ils.jobs.webhooks.deliver`) loads neither SQLAlchemy nor httpx; the
handler imports the models and the sender when it runs.
"""
