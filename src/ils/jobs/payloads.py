"""Field types the ILS job payloads share: ids, bounded texts, personal data, priorities.

Each payload model lives beside its job type's declaration and handler (``ils.jobs.email.handlers``
and so on). Field names are snake_case in Python and camelCase on the wire (``orderId``), so jobs
added by the old Node producers validate unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ils.queue.registry import Personal

Id = Annotated[int, Field(gt=0)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# Free text or addresses that may name a patient or customer: masked in admin views for roles
# that watch the queues without reading the data (ils.queue.registry.Personal).
PersonalText = Annotated[Text, Personal()]
PersonalShortText = Annotated[ShortText, Personal()]
NotificationPriority = Literal["urgent", "high", "medium", "low"]
