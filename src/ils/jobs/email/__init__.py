"""The email queue: its six job types and handlers (:mod:`.handlers`), their templates
(:mod:`.render`), the mail transports (``file`` by default, ``smtp``; :mod:`.transports`), the
settings (:mod:`.settings`) and the :class:`~.mailer.Mailer` with the email log that makes each
email go once.

Nothing is imported here: a process that only enqueues emails loads the declarations, not
Jinja2 or the SMTP client (those come with the mailer, built by the process that sends).
"""
