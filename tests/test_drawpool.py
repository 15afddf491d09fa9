"""The drawing pool: documents drawn ahead in worker processes, the same bytes as drawn here."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_documents import make_template, row

from docmail_nb._documents.planned import DocumentPlanner, PlannedDocument
from docmail_nb._run.drawpool import DrawingPool, drawing_jobs
from docmail_nb.errors import ConfigError, DocumentError


def planned(tmp_path: Path, count: int) -> list[PlannedDocument]:
    make_template(tmp_path / "tpl")
    planner = DocumentPlanner(tmp_path / "tpl", tmp_path / "out")
    documents = []
    for number in range(count):
        values = row(invoice_no=f"R-{number}", lines=number % 3)
        document, problems = planner.plan("invoice.html", values, f"R-{number}")
        assert document is not None
        assert problems == []
        documents.append(document)
    return documents


def test_workers_draw_the_same_bytes_in_order_of_asking(tmp_path: Path) -> None:
    documents = planned(tmp_path, 5)
    asked: list[str] = []

    def wanted(document: PlannedDocument) -> bool:
        asked.append(document.name)
        return document.name != documents[3].name  # the ledger has this one already

    with DrawingPool(documents, 2, wanted=wanted, ahead=2) as pool:
        drawn = [pool.draw(document) for document in documents]
        assert pool.by_workers == 5  # the fourth too, when it was asked for
    assert [made.sha256 for made in drawn] == [doc.render().sha256 for doc in documents]
    assert asked == [document.name for document in documents]  # in sending order, once each


def test_one_job_draws_here_and_starts_nothing(tmp_path: Path) -> None:
    (document,) = planned(tmp_path, 1)
    with DrawingPool([document], 1) as pool:
        assert pool.draw(document).sha256 == document.render().sha256
        assert pool.by_workers == 0


def test_a_document_that_cannot_be_made_is_a_document_error(tmp_path: Path) -> None:
    (document,) = planned(tmp_path, 1)
    bad = PlannedDocument(
        document.path, "x", document.renderer, {**document.values, "account": "CH00 1234"}
    )
    with DrawingPool([bad], 2) as pool, pytest.raises(DocumentError, match="cannot be made"):
        pool.draw(bad)


@pytest.mark.parametrize("jobs", [0, -1, True, "2"])
def test_impossible_jobs_are_refused(jobs: object) -> None:
    with pytest.raises(ConfigError, match="--jobs"):
        drawing_jobs(jobs)  # type: ignore[arg-type]


def test_workers_leave_with_a_killed_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "sys.path[:0] = [sys.argv[1], sys.argv[1] + '/support']\n"
        "from test_drawpool import planned\n"
        "from docmail_nb._run.drawpool import DrawingPool\n"
        "from pathlib import Path\n"
        "docs = planned(Path(sys.argv[2]), 2)\n"
        "pool = DrawingPool(docs, 2)\n"
        "pool.draw(docs[0])\n"
        "print('drawn', flush=True)\n"
        "time.sleep(60)\n",
        encoding="utf-8",
    )
    parent = subprocess.Popen(
        [sys.executable, str(script), str(Path(__file__).parent), str(tmp_path / "docs")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "drawn"
    workers = _descendants(parent.pid)
    assert len(workers) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 20
    while any(_exists(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _exists(pid)]


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _exists(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_run_with_a_drawing_pool_sends_and_records_as_one_drawing_here(tmp_path: Path) -> None:
    from test_documents_batch import PROFILE, good_rows, project

    from docmail_nb._mail.transport import MemoryTransport
    from docmail_nb._run.send import SendOptions, send_plan
    from docmail_nb._store.ledger import Ledger
    from docmail_nb.batch import Batch

    orders, template = project(tmp_path, good_rows(7))
    runs = {}
    for jobs in (1, 2):
        out, ledger_path = tmp_path / f"made-{jobs}", tmp_path / f"ledger-{jobs}.sqlite"
        plan = Batch.from_files(orders, template, documents_out=out).plan
        transport = MemoryTransport()
        options = SendOptions(jobs=jobs, limit=6)  # the seventh is drawn ahead, never used
        report = send_plan(plan, PROFILE, ledger=ledger_path, transport=transport, options=options)
        assert report.counts() == {"sent": 6, "planned": 1}
        with Ledger(ledger_path) as ledger:
            records = [(r.key, r.name, r.sha256) for r in ledger.documents(plan.campaign)]
        sent = [str(stored.msg["Subject"]) for stored in transport.stored]
        runs[jobs] = (sent, sorted(records), sorted(path.name for path in out.iterdir()))
    assert runs[2] == runs[1]
    assert runs[1][0] == [f"Rechnung R-{n}" for n in range(1, 7)]
    assert len(runs[1][2]) == 6  # the document drawn ahead for the seventh was not saved


@pytest.mark.parametrize("jobs", [1, 2])
def test_two_senders_draw_each_document_once_between_them(
    tmp_path: Path, ledger_store: str | Path, jobs: int
) -> None:
    """Each sender holds a message before drawing its document: no document is drawn twice."""
    import re
    import threading

    from test_documents_batch import PROFILE, good_rows, project

    from docmail_nb._mail.transport import MemoryTransport
    from docmail_nb._run.send import SendOptions, send_plan
    from docmail_nb.batch import Batch

    orders, template = project(tmp_path, good_rows(8))
    transports = [MemoryTransport(), MemoryTransport()]
    notes: list[str] = []
    together = threading.Barrier(2)

    def sender(n: int) -> None:
        plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
        together.wait()
        report = send_plan(
            plan, PROFILE, ledger=ledger_store, transport=transports[n],
            options=SendOptions(jobs=jobs),
        )  # fmt: skip
        notes.extend(report.notes)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [int(found) for note in notes for found in re.findall(r"(\d+) made now", note)]
    assert sum(made) == 8
    sent = sorted(str(stored.msg["Subject"]) for t in transports for stored in t.stored)
    assert sent == sorted(f"Rechnung R-{n}" for n in range(1, 9))
