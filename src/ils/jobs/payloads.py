"""Field types the ILS job payloads share: ids, bounded texts, personal data, priorities, email
addresses.

Each payload model lives beside its job type's declaration and handler (``ils.jobs.email.handlers``
and so on). Field names are snake_case in Python and camelCase on the wire (``orderId``), so jobs
added by the old Node producers validate unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from ils.queue.registry import Personal

Id = Annotated[int, Field(gt=0)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# Free text or addresses that may name a patient or customer: masked in admin views for roles
# that watch the queues without reading the data (ils.queue.registry.Personal).
PersonalText = Annotated[Text, Personal()]
PersonalShortText = Annotated[ShortText, Personal()]
NotificationPriority = Literal["urgent", "high", "medium", "low"]


def _email_address(value: str) -> str:
    from pydantic.networks import validate_email

    return validate_email(value)[1]


# pydantic's EmailStr, validated the same way (the same errors, the same JSON schema), except that
# pydantic's URL types and email-validator are imported when the first address is validated, not
# when a payload model is built: every process's registry builds the email payloads, and most
# never validate an address.
EmailAddress = Annotated[
    str, AfterValidator(_email_address), WithJsonSchema({"type": "string", "format": "email"})
]
