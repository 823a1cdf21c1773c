"""Patients and their eye examinations: ``/api/patients`` and ``/api/examinations``.

Every signed-in user works within their own company; another company's ids answer 404. The
rules live in :mod:`ils.domain.services.patients`; this module is the HTTP side.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict

from ils.domain.models.clinical import Examination, Patient
from ils.domain.models.rx import PrismBase
from ils.domain.services import MAX_ID, Id, QueuedJob, Window
from ils.domain.services import patients as service
from ils.domain.services.patients import ExaminationCreate, PatientCreate, PatientUpdate
from ils.web.auth import CurrentUser, DbSession, get_owned, permit
from ils.web.errors import ErrorOut
from ils.web.quota_deps import PdfQuota

router = APIRouter(tags=["patients"])

PatientId = Id
ExaminationId = Id
Limit = Annotated[int, Query(ge=1, le=200, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip")]
Search = Annotated[
    str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$", description="name")
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


class PatientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str
    last_name: str
    date_of_birth: dt.date | None
    email: str | None
    phone: str | None
    notes: str | None
    created_at: dt.datetime


class PatientPage(BaseModel):
    items: list[PatientOut]
    total: int
    limit: int
    offset: int


class EyeOut(BaseModel):
    sphere: Decimal | None
    cylinder: Decimal | None
    axis: int | None
    add: Decimal | None
    prism: Decimal | None
    prism_base: PrismBase | None
    acuity: str | None


class PupillaryDistanceOut(BaseModel):
    binocular: Decimal | None
    right: Decimal | None
    left: Decimal | None


class ExaminationOut(BaseModel):
    id: int
    patient_id: int
    examiner_user_id: int | None
    examined_at: dt.datetime
    right: EyeOut
    left: EyeOut
    pd: PupillaryDistanceOut
    notes: str | None
    recall_due: dt.date | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: Examination) -> ExaminationOut:
        def eye(side: str) -> EyeOut:
            fields = ("sphere", "cylinder", "axis", "add", "prism", "prism_base")
            values = {name: getattr(row, f"{side}_{name}") for name in fields}
            return EyeOut(**values, acuity=getattr(row, f"{side}_va"))

        return cls(
            id=row.id,
            patient_id=row.patient_id,
            examiner_user_id=row.examiner_user_id,
            examined_at=row.examined_at,
            right=eye("right"),
            left=eye("left"),
            pd=PupillaryDistanceOut(
                binocular=row.pd_binocular, right=row.pd_right, left=row.pd_left
            ),
            notes=row.notes,
            recall_due=row.recall_due,
            created_at=row.created_at,
        )


class ExaminationPage(BaseModel):
    items: list[ExaminationOut]
    total: int
    limit: int
    offset: int


@router.get(
    "/api/patients",
    response_model=PatientPage,
    summary="The company's patients",
    dependencies=[permit("patients.read")],
)
async def list_patients(
    user: CurrentUser, session: DbSession, limit: Limit = 50, offset: Offset = 0, q: Search = None
) -> PatientPage:
    """Newest first; ``q`` keeps the patients whose first or last name holds every word."""
    found = await service.list_patients(session, user.company_id, Window(limit, offset), q)
    items = [PatientOut.model_validate(row) for row in found.items]
    return PatientPage(items=items, total=found.total, limit=limit, offset=offset)


@router.post(
    "/api/patients",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register a patient",
    dependencies=[permit("patients.write")],
)
async def create_patient(body: PatientCreate, user: CurrentUser, session: DbSession) -> Patient:
    return await service.create_patient(session, user.company_id, body)


@router.get(
    "/api/patients/{patient_id}",
    response_model=PatientOut,
    responses=NOT_FOUND,
    summary="A patient",
    dependencies=[permit("patients.read")],
)
async def get_patient(patient_id: PatientId, user: CurrentUser, session: DbSession) -> Patient:
    return await get_owned(session, Patient, patient_id, user)


@router.patch(
    "/api/patients/{patient_id}",
    response_model=PatientOut,
    responses=NOT_FOUND,
    summary="Change a patient's details (only the fields sent)",
    dependencies=[permit("patients.write")],
)
async def update_patient(
    patient_id: PatientId, body: PatientUpdate, user: CurrentUser, session: DbSession
) -> Patient:
    patient = await get_owned(session, Patient, patient_id, user)
    return await service.update_patient(session, patient, body)


@router.get(
    "/api/patients/{patient_id}/examinations",
    response_model=ExaminationPage,
    responses=NOT_FOUND,
    summary="A patient's examinations, the latest first",
    dependencies=[permit("examinations.read")],
)
async def list_examinations(
    patient_id: PatientId,
    user: CurrentUser,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ExaminationPage:
    patient = await get_owned(session, Patient, patient_id, user)
    found = await service.list_examinations(session, patient, Window(limit, offset))
    items = [ExaminationOut.of(row) for row in found.items]
    return ExaminationPage(items=items, total=found.total, limit=limit, offset=offset)


@router.post(
    "/api/patients/{patient_id}/examinations",
    response_model=ExaminationOut,
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
    summary="Record an examination of a patient",
    dependencies=[permit("examinations.record")],
)
async def create_examination(
    patient_id: PatientId, body: ExaminationCreate, user: CurrentUser, session: DbSession
) -> ExaminationOut:
    patient = await get_owned(session, Patient, patient_id, user)
    row = await service.create_examination(session, patient, user.id, body)
    return ExaminationOut.of(row)


@router.get(
    "/api/examinations/{examination_id}",
    response_model=ExaminationOut,
    responses=NOT_FOUND,
    summary="An examination",
    dependencies=[permit("examinations.read")],
)
async def get_examination(
    examination_id: ExaminationId, user: CurrentUser, session: DbSession
) -> ExaminationOut:
    return ExaminationOut.of(await get_owned(session, Examination, examination_id, user))


@router.post(
    "/api/examinations/{examination_id}/pdf",
    response_model=QueuedJob,
    status_code=status.HTTP_202_ACCEPTED,
    responses=NOT_FOUND,
    summary="Render the examination form as a PDF, in the background",
    dependencies=[permit("examinations.pdf")],
)
async def examination_pdf(
    examination_id: ExaminationId, user: CurrentUser, _quota: PdfQuota, session: DbSession
) -> QueuedJob:
    """Answers at once with the job's id; the job reaches the PDF queue when this commits."""
    examination = await get_owned(session, Examination, examination_id, user)
    return await service.queue_examination_form(session, examination)
