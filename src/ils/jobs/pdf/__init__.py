"""The pdf queue: order sheets, invoices, receipts, lab work tickets and examination forms
(:mod:`.handlers`), drawn with reportlab (:mod:`.render`) in a process pool (:mod:`.pool`,
sized from the pdf queue's concurrency), stored as files with a row in ``documents``.

Nothing is imported here: a render process imports this package before the renderer and needs
reportlab, not SQLAlchemy; a process that only enqueues PDFs needs neither.
"""
