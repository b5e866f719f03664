"""The product's own database, as the cycles see it: their current state and their consents."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, select
from temporalio import activity

from models.db import Sessions
from models.records import ConsentRecord, CycleRecord


class CycleSnapshot(BaseModel):
    cycle_id: str
    program: str
    month: str
    region: str
    state: str
    citizen_ref: str
    voucher_id: str
    phone_ref: str | None = None
    short_number: str | None = None
    at: datetime


class ConsentAct(BaseModel):
    message_id: str
    cycle_id: str
    citizen_ref: str
    iin: str
    program: str
    program_version: str
    month: str
    decision: str  # "agree" | "refuse"
    received_at: datetime
    recorded_at: datetime


class ConsentQuery(BaseModel):
    citizen_ref: str
    program_version: str


class Records:
    """Activities reading and writing the product's database."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    @activity.defn(name="records.cycle")
    async def record_cycle(self, snapshot: CycleSnapshot) -> None:
        """Upsert the cycle's row; reports and reply routing read it."""
        async with self._sessions() as session:
            await session.merge(
                CycleRecord(**snapshot.model_dump(exclude={"at"}), updated_at=snapshot.at)
            )
            await session.commit()

    @activity.defn(name="records.consent")
    async def record_consent(self, act: ConsentAct) -> None:
        """Keep a consent or refusal as an auditable record (one per inbound message)."""
        async with self._sessions() as session:
            await session.merge(ConsentRecord(**act.model_dump()))
            await session.commit()

    @activity.defn(name="records.consent_on_file")
    async def consent_on_file(self, query: ConsentQuery) -> bool:
        """Whether the citizen's latest decision under this program version is a consent."""
        async with self._sessions() as session:
            latest = (
                await session.exec(
                    select(ConsentRecord.decision)
                    .where(ConsentRecord.citizen_ref == query.citizen_ref)
                    .where(ConsentRecord.program_version == query.program_version)
                    .order_by(col(ConsentRecord.received_at).desc())
                    .limit(1)
                )
            ).first()
        return latest == "agree"
