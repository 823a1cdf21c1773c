"""The audit: for every job a scenario enqueued, how many times its side effect happened —
emails as the SMTP sink received them (grouped by subject or by the job's Message-ID), notification
rows (by title or job id), document, AI result and OMA file rows (by job id), the SVG drawn for an
OMA file (its row's, by the OMA job's id), exported OMA files (stored under their job's id) and
schedule runs (the run's job id written to its schedule's row). A job whose effect is
missing is *lost*; one whose effect shows twice is *duplicated*; an email the sink took twice
under one Message-ID is *resent* (SMTP is at-least-once; readers' servers drop the copy)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any

from bench.chaos.mix import Expected
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.models import AiResult, Document, Notification, OmaFile, Schedule
from ils.files import FileStorage
from ils.jobs.email.transports import message_id_for

#: The kinds whose effect is found by the tag: the OMA job whose row the SVG is drawn for.
BY_TAG = frozenset({"oma-svg"})
#: Kinds audited in another kind's rows (a schedule run's AI job: an AI result).
ROWS_OF = {"briefing": "ai"}


@dataclass
class Tally:
    """One kind's figures."""

    expected: int = 0
    done: int = 0
    lost: int = 0
    duplicated: int = 0
    resent: int = 0
    lost_ids: list[str] = field(default_factory=list)
    duplicated_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lost_ids"] = out["lost_ids"][:20]
        out["duplicated_ids"] = out["duplicated_ids"][:20]
        return out


@dataclass(frozen=True)
class Effects:
    """What the deployment did, read once after a scenario: Message-IDs of the emails the sink
    received by subject, and the rows' counts by job id and by title."""

    emails: dict[str, list[str]]
    rows: dict[str, Counter[str]]

    @classmethod
    def of(cls, messages: Iterable[EmailMessage], rows: dict[str, Counter[str]]) -> Effects:
        emails: dict[str, list[str]] = defaultdict(list)
        for m in messages:
            mid = str(m["Message-ID"])
            emails[f"subject:{m['Subject']}"].append(mid)
            emails[f"id:{mid}"].append(mid)
        return cls(dict(emails), rows)

    def copies(self, e: Expected, sender: str) -> tuple[int, int]:
        """How many times ``e``'s effect happened, and how many distinct effects those were."""
        if e.kind == "email":
            key = f"subject:{e.tag}" if e.tag else f"id:{message_id_for(e.job_id, sender)}"
            ids = self.emails.get(key, [])
            return len(ids), len(set(ids))
        counts = self.rows.get(ROWS_OF.get(e.kind, e.kind), Counter())
        if e.kind == "notification" and e.tag:
            n = counts[f"title:{e.tag}"]
        else:
            n = counts[e.tag if e.kind in BY_TAG else e.job_id]
        return n, n


def tally(expected: Sequence[Expected], effects: Effects, sender: str) -> dict[str, Tally]:
    """Per kind: lost, duplicated and resent effects of the ``expected`` jobs."""
    out: dict[str, Tally] = defaultdict(Tally)
    for e in expected:
        t = out[e.kind]
        t.expected += 1
        copies, distinct = effects.copies(e, sender)
        if copies == 0:
            t.lost += 1
            t.lost_ids.append(e.job_id)
            continue
        t.done += 1
        if distinct > 1:
            t.duplicated += 1
            t.duplicated_ids.append(e.job_id)
        t.resent += copies - distinct
    return dict(out)


def exported(files: FileStorage) -> Counter[str]:
    """The OMA files exported for download, by job id (stored as
    ``<company>/oma-export/<job id>-<order number>.oma``)."""
    out: Counter[str] = Counter()
    for key, _mtime in files.entries():
        parts = key.split("/")
        if len(parts) == 3 and parts[1] == "oma-export" and not parts[2].startswith("."):
            out[parts[2].split("-", 1)[0]] += 1
    return out


async def read_rows(system: JobSystem) -> dict[str, Counter[str]]:
    """Counts of the notification, document, AI result and OMA file rows by job id (and
    notifications also by title), of the SVGs drawn by OMA job id, of the runs recorded on
    schedules by job id, and of the exported files by job id."""
    kinds = ("notification", "document", "ai", "oma", "oma-svg", "scheduled")
    rows: dict[str, Counter[str]] = {k: Counter() for k in kinds}
    async with system.database.session() as s:
        for job_id, title in await s.execute(select(Notification.job_id, Notification.title)):
            rows["notification"][str(job_id)] += 1
            rows["notification"][f"title:{title}"] += 1
        for (job_id,) in await s.execute(select(Document.job_id)):
            rows["document"][job_id] += 1
        for (job_id,) in await s.execute(select(AiResult.job_id)):
            rows["ai"][str(job_id)] += 1
        for job_id, svg_path in await s.execute(select(OmaFile.job_id, OmaFile.svg_path)):
            rows["oma"][job_id] += 1
            rows["oma-svg"][job_id] += svg_path is not None
        for (job_id,) in await s.execute(select(Schedule.last_job_id)):
            rows["scheduled"][str(job_id)] += 1
    rows["export"] = exported(system.files)
    return rows


async def audit(
    system: JobSystem, messages: Iterable[EmailMessage], expected: Sequence[Expected]
) -> dict[str, Tally]:
    effects = Effects.of(list(messages), await read_rows(system))
    return tally(expected, effects, system.settings.mail_settings().sender)
