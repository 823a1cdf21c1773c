"""Patients and their eye examinations: ``/api/patients`` and ``/api/examinations``.

Every signed-in user works within their own company; another company's ids answer 404. The
rules live in :mod:`ils.domain.services.patients`; this module is the HTTP side.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict

from ils.domain.enums import PrismBase
from ils.domain.models.clinical import Examination, Patient
from ils.domain.services import Id, QueuedJob, Window
from ils.domain.services import patients as service
from ils.domain.services.patients import (
    ExaminationCreate,
    PatientCreate,
    PatientUpdate,
)
from ils.web.auth import CurrentUser, DbSession, get_owned, permit
from ils.web.routes.common import Acting, Limit, Offset, OwnedRows, Page, one_row

router = APIRouter(tags=["patients"])

PatientId = Id
ExaminationId = Id


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


class PatientPage(Page[PatientOut]):
    pass


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


class ExaminationPage(Page[ExaminationOut]):
    pass


patients = OwnedRows(
    router, Patient, PatientOut, "/api/patients", "patients.read", "patients.write"
)
examinations = OwnedRows(
    router, Examination, ExaminationOut, "/api/examinations", "examinations.read"
)


patients.search(
    PatientPage,
    service.list_patients,
    "The company's patients",
    "Newest first; ``q`` keeps the patients whose first or last name holds every word.",
)
patients.create(PatientCreate, service.create_patient, "Register a patient")
patients.read("A patient")
patients.update(
    PatientUpdate, service.update_patient, "Change a patient's details (only the fields sent)"
)


@one_row(router, "GET", "/api/patients/{patient_id}/examinations", permit("examinations.read"),
         response_model=ExaminationPage,
         summary="A patient's examinations, the latest first")  # fmt: skip
async def list_examinations(
    patient_id: PatientId,
    user: CurrentUser,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ExaminationPage:
    patient = await get_owned(session, Patient, patient_id, user)
    window = Window(limit, offset)
    found = await service.list_examinations(session, patient, window)
    return ExaminationPage.of(found, window, ExaminationOut.of)


@patients.action(
    "POST", "examinations", "examinations.record", ExaminationOut, body=ExaminationCreate,
    status_code=status.HTTP_201_CREATED,
)  # fmt: skip
async def create_examination(patient: Patient, act: Acting[ExaminationCreate]) -> ExaminationOut:
    """Record an examination of a patient"""
    row = await service.create_examination(act.session, patient, act.user.id, act.body)
    return ExaminationOut.of(row)


examinations.read("An examination", ExaminationOut.of)


@examinations.action(
    "POST", "pdf", "examinations.pdf", QueuedJob, quota="pdf", status_code=status.HTTP_202_ACCEPTED
)
async def examination_pdf(examination: Examination, act: Acting[None]) -> QueuedJob:
    """Render the examination form as a PDF, in the background

    Answers at once with the job's id; the job reaches the PDF queue when this commits.
    """
    return await service.queue_examination_form(act.session, examination)
