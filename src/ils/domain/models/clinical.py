"""Patients of a practice and their eye examinations: refraction per eye, visual acuity,
pupillary distance, and when the patient is due back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.models.rx import RxColumns, rx_checks
from ils.domain.models.shared import CompanyOwned, owned_children, owner
from ils.domain.models.types import UtcDateTime, utcnow


class Patient(CompanyOwned, Base):
    __tablename__ = "patients"
    __table_args__ = (Index("ix_patients_company_name", "company_id", "last_name", "first_name"),)

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    examinations: Mapped[list[Examination]] = owned_children(
        "patient", "Examination.examined_at", "raise_on_sql"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Examination(RxColumns, CompanyOwned, Base):
    """One eye examination: the refraction found, per eye, and the recall date it sets."""

    __tablename__ = "examinations"
    __table_args__ = (
        *rx_checks(),
        Index("ix_examinations_patient_examined", "patient_id", "examined_at"),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    examiner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    examined_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    right_va: Mapped[str | None] = mapped_column(String(12))
    left_va: Mapped[str | None] = mapped_column(String(12))
    notes: Mapped[str | None] = mapped_column(Text)
    recall_due: Mapped[dt.date | None] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    patient: Mapped[Patient] = owner("examinations")
