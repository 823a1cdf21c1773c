"""Patients of a practice and their eye examinations: listing, recording and correcting them,
and handing an examination's form to the PDF queue."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.enums import PrismBase
from ils.domain.models.clinical import Examination, Patient
from ils.domain.models.types import utcnow
from ils.domain.services import (
    Email,
    LongText,
    Paged,
    PartialUpdate,
    QueuedJob,
    SearchText,
    Text12,
    Text40,
    Text100,
    Window,
    added,
    changed,
    newest_first,
    paged,
    partial_update,
)
from ils.errors import Invalid
from ils.jobs.helpers import queue_examination_form_pdf

EARLIEST_BIRTH = dt.date(1900, 1, 1)
HUNDREDTH = Decimal("0.01")


def _birth_date(value: dt.date) -> dt.date:
    if not EARLIEST_BIRTH <= value <= dt.date.today():
        raise ValueError(f"must be between {EARLIEST_BIRTH} and today")
    return value


BirthDate = Annotated[dt.date, AfterValidator(_birth_date)]


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Text100
    last_name: Text100
    date_of_birth: BirthDate | None = None
    email: Email | None = None
    phone: Text40 | None = None
    notes: LongText | None = None


PatientUpdate = partial_update("PatientUpdate", PatientCreate, "first_name", "last_name")


def _hundredths(value: Decimal) -> Decimal:
    return value.quantize(HUNDREDTH)


# Two places, as the columns keep them: "-2" is answered as "-2.00" before and after storing.
Hundredths = AfterValidator(_hundredths)
Sphere = Annotated[Decimal, Field(ge=-30, le=30, decimal_places=2), Hundredths]
Cylinder = Annotated[Decimal, Field(ge=-15, le=15, decimal_places=2), Hundredths]
Axis = Annotated[int, Field(ge=0, le=180, description="degrees, 0 to 180")]
Addition = Annotated[Decimal, Field(ge=0, le=6, decimal_places=2), Hundredths]
Prism = Annotated[
    Decimal, Field(ge=0, le=20, decimal_places=2, description="prism dioptres"), Hundredths
]
Distance = Annotated[
    Decimal, Field(gt=0, lt=100, decimal_places=2, description="millimetres"), Hundredths
]


class EyeRefraction(BaseModel):
    """The refraction found for one eye, and its visual acuity (``6/6``, ``20/40``...)."""

    model_config = ConfigDict(extra="forbid")

    sphere: Sphere | None = None
    cylinder: Cylinder | None = None
    axis: Axis | None = None
    add: Addition | None = None
    prism: Prism | None = None
    prism_base: PrismBase | None = None
    acuity: Text12 | None = None


class PupillaryDistance(BaseModel):
    """Binocular, or monocular per eye."""

    model_config = ConfigDict(extra="forbid")

    binocular: Distance | None = None
    right: Distance | None = None
    left: Distance | None = None


class ExaminationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    examined_at: AwareDatetime | None = Field(None, description="defaults to now")
    right: EyeRefraction = Field(default_factory=EyeRefraction)
    left: EyeRefraction = Field(default_factory=EyeRefraction)
    pd: PupillaryDistance = Field(default_factory=PupillaryDistance)
    notes: LongText | None = None
    recall_due: dt.date | None = None


def _check_eye(side: str, eye: EyeRefraction) -> None:
    if eye.cylinder and eye.axis is None:
        raise Invalid((side, "axis"), "an axis is required with a cylinder")
    if eye.prism and eye.prism_base is None:
        raise Invalid((side, "prism_base"), "a base direction is required with a prism")
    if eye.prism_base is not None and not eye.prism:
        raise Invalid((side, "prism"), "a prism is required with a base direction")


def _rx_values(data: ExaminationCreate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for side, eye in (("right", data.right), ("left", data.left)):
        _check_eye(side, eye)
        values |= {
            f"{side}_sphere": eye.sphere,
            f"{side}_cylinder": eye.cylinder,
            f"{side}_axis": eye.axis,
            f"{side}_add": eye.add,
            f"{side}_prism": eye.prism,
            f"{side}_prism_base": eye.prism_base,
            f"{side}_va": eye.acuity,
        }
    pd = data.pd
    return values | {"pd_binocular": pd.binocular, "pd_right": pd.right, "pd_left": pd.left}


class PatientFilter(BaseModel):
    q: SearchText | None = Field(None, description="name")


async def list_patients(
    session: AsyncSession, company_id: int, window: Window, given: PatientFilter
) -> Paged[Patient]:
    """A company's patients, newest first; ``q`` matches every word in a first or last name."""
    stmt = select(Patient).where(Patient.company_id == company_id)
    for word in (given.q or "").split():
        stmt = stmt.where(
            or_(
                Patient.first_name.icontains(word, autoescape=True),
                Patient.last_name.icontains(word, autoescape=True),
            )
        )
    return await paged(session, stmt.order_by(*newest_first(Patient)), window)


async def create_patient(session: AsyncSession, company_id: int, data: PatientCreate) -> Patient:
    return await added(session, Patient(company_id=company_id, **data.model_dump()))


async def update_patient(session: AsyncSession, patient: Patient, data: PartialUpdate) -> Patient:
    return await changed(session, patient, data.model_dump(exclude_unset=True))


async def create_examination(
    session: AsyncSession, patient: Patient, examiner_id: int | None, data: ExaminationCreate
) -> Examination:
    """Record an examination of ``patient`` (in the patient's company)."""
    examined_at = data.examined_at or utcnow()
    if examined_at > utcnow() + dt.timedelta(minutes=5):
        raise Invalid("examined_at", "must not be in the future")
    if data.recall_due is not None and data.recall_due < examined_at.date():
        raise Invalid("recall_due", "must not be before the examination")
    examination = Examination(
        company_id=patient.company_id,
        patient_id=patient.id,
        examiner_user_id=examiner_id,
        examined_at=examined_at,
        notes=data.notes,
        recall_due=data.recall_due,
        **_rx_values(data),
    )
    return await added(session, examination)


async def list_examinations(
    session: AsyncSession, patient: Patient, window: Window
) -> Paged[Examination]:
    """A patient's examinations, the latest first."""
    stmt = (
        select(Examination)
        .where(Examination.patient_id == patient.id)
        .order_by(Examination.examined_at.desc(), Examination.id.desc())
    )
    return await paged(session, stmt, window)


async def queue_examination_form(session: AsyncSession, examination: Examination) -> QueuedJob:
    """Hand the examination's form to the PDF queue, in ``session``'s transaction."""
    enqueued = await queue_examination_form_pdf.using(
        company_id=examination.company_id, session=session
    )(examination_id=examination.id)
    return QueuedJob.of(enqueued)
