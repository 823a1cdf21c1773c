"""The OMA routes on both databases: an upload reaches the process-oma-file job through the
outbox and its original, its regenerated file and its trace come back; another company's order is
a 404; an oversized upload (a 50 MB stream included, refused before it is read) is a 413 and a
file that does not parse a 422 naming the field, line and label — nothing enqueued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.models import OmaFile
from ils.jobs.oma.handlers import MAX_OMA_BYTES
from ils.jobs.oma.process import derived_id
from ils.oma import parse
from ils.queue.outbox_table import outbox
from tests.support.oma_files import job_file
from tests.support.running import running
from tests.web.conftest import Accounts
from tests.web.helpers import outsider, signed_in

ORDER: dict[str, Any] = {
    "customer_name": "Dana Whitfield",
    "lines": [{"kind": "frame", "description": "Acetate frame", "unit_price": "89.90"}],
    "rx": {"right": {"sphere": "-2.25"}, "left": {"sphere": "-1.75"}, "pd_binocular": "63"},
    "frame_a": "50", "frame_b": "50", "frame_dbl": "18",
}  # fmt: skip
BOUNDARY = "oma-test-boundary"


async def new_order(client: httpx.AsyncClient) -> tuple[int, str]:
    made = await client.post("/api/orders", json=ORDER)
    assert made.status_code == 201, made.text
    return made.json()["order"]["id"], made.json()["order"]["number"]


async def queued_oma_jobs(app: FastAPI) -> int:
    async with app.state.system.database.session() as s:
        query = select(func.count()).select_from(outbox).where(outbox.c.queue == "oma")
        return int(await s.scalar(query) or 0)


async def test_an_upload_is_processed_and_its_files_come_back(api: FastAPI, accounts: Accounts):
    system: JobSystem = api.state.system
    async with signed_in(api) as client:
        order_id, number = await new_order(client)
        data = job_file(number)
        sent = await client.post(
            f"/api/orders/{order_id}/oma",
            files={"file": ("frame 1.oma", data, "application/x-oma")},
        )
        assert sent.status_code == 202, sent.text
        body = sent.json()
        assert body["order_id"] == order_id and body["size"] == len(data)
        async with running(system, "oma"):
            done = await system.admin.wait_for_job("oma", body["job_id"], timeout_s=30)
            assert done.state == "completed", done.failed_reason
            render = derived_id(done.id, "render")  # queued by the first job
            drawn = await system.admin.wait_for_job("oma", render, timeout_s=30)
            assert drawn.state == "completed", drawn.failed_reason
        async with system.database.session() as s:
            row = await s.scalar(select(OmaFile))
        assert row is not None and row.filename == "frame-1.oma" and row.svg_path
        original = await client.get(f"/api/orders/{order_id}/oma")
        assert original.status_code == 200 and original.content == data
        assert 'filename="frame-1.oma"' in original.headers["content-disposition"]
        again = await client.get(f"/api/orders/{order_id}/oma", params={"regenerated": "true"})
        assert again.status_code == 200, again.text
        regenerated = parse(again.content)
        assert regenerated.job == number and regenerated.chiral("SPH") == ("-2.25", "-1.75")
        assert [t.side for t in regenerated.traces] == ["R", "L"]
        svg = await client.get(f"/api/orders/{order_id}/oma/trace.svg")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert (
            svg.text.startswith("<svg")
            and "default-src 'none'" in svg.headers["content-security-policy"]
        )
    async with outsider(api) as theirs:
        for url in (f"/api/orders/{order_id}/oma", f"/api/orders/{order_id}/oma/trace.svg"):
            assert (await theirs.get(url)).status_code == 404
        refused = await theirs.post(
            f"/api/orders/{order_id}/oma", files={"file": ("x.oma", data, "application/x-oma")}
        )
        assert refused.status_code == 404


async def test_bad_uploads_are_refused_naming_the_field_and_nothing_is_queued(
    api: FastAPI, accounts: Accounts
):
    async with signed_in(api) as client:
        order_id, number = await new_order(client)
        url = f"/api/orders/{order_id}/oma"
        no_oma = await client.get(url)
        assert no_oma.status_code == 404 and "has no OMA file" in no_oma.text
        cases = [
            (b"JOB=X\r\nTRCFMT=1;3;E;R;F\r\nR=1;2;x\r\n", 422, "file: line 3, label R"),
            ("JOB=Grüße\r\n".encode(), 422, "file: line 1: non-ASCII byte 0xC3"),
            (b"", 422, "file: empty"),
            (job_file(number) + b"_PAD=" + b"x" * MAX_OMA_BYTES, 413, "file: an OMA file"),
        ]
        for data, code, detail in cases:
            answer = await client.post(url, files={"file": ("f.oma", data, "text/plain")})
            assert answer.status_code == code, answer.text
            assert detail in answer.json()["detail"], answer.text
        missing = await client.post(url, data={"other": "x"})
        assert missing.status_code == 422 and "file" in missing.text

        sent = 0
        total = 50 * 1024 * 1024

        async def fifty_megabytes() -> AsyncIterator[bytes]:
            nonlocal sent
            yield (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.oma"\r\n\r\n'
            ).encode()
            while sent < total:
                sent += 64 * 1024
                yield b"R=2500\r\n" * 8192
            yield f"\r\n--{BOUNDARY}--\r\n".encode()

        headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
        big = await client.post(url, content=fifty_megabytes(), headers=headers)
        assert big.status_code == 413, big.text
        assert sent < total // 10  # refused as it arrived, not read to the end
    assert await queued_oma_jobs(api) == 0
