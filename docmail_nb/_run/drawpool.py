"""The drawing pool: a run's documents drawn ahead in worker processes while messages go out.

WeasyPrint is CPU-bound and holds the GIL, so threads do not draw faster; processes do. The
pool draws the documents of the next messages, in the order they are sent, a few ahead of
the sending (``ahead``); the sending side asks for each one when it gets to its message and
waits only when it is not ready yet. What is sent, in which order, and what the ledger
records stay exactly as when the sending process draws each document itself (``jobs=1``):
the pool only changes where the bytes are made (WeasyPrint draws the same bytes for the same
input).

A worker is a fresh Python process (``python -c``) that reads jobs from its standard input
and writes PDFs to its standard output: nothing of the sending process is forked (no locks
held by its threads, no re-run of the user's script), and a worker ends by itself when its
input closes — when the run ends, or when the process that started it dies, even killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import IO, TYPE_CHECKING

from docmail_nb.errors import ConfigError, DocmailError, DocumentError

if TYPE_CHECKING:
    from docmail_nb._documents.planned import PlannedDocument
    from docmail_nb._documents.render import RenderedDocument

from docmail_nb.errors import WorkerGone
from docmail_nb.words import setting

__all__ = ["DrawingPool", "default_jobs", "drawing_jobs", "serve"]

_FRAME = struct.Struct("!I")
#: what a worker answers: the document, or the problem's message and hint
_Answer = tuple["RenderedDocument | None", str, str]
#: the queue of jobs the drawing processes share; None tells one to stop
_Jobs = queue.SimpleQueue[tuple["PlannedDocument", Future[_Answer]] | None]


def default_jobs() -> int:
    """The number of cores this process may run on: the default of ``--jobs``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def drawing_jobs(wanted: int | None) -> int:
    """How many processes draw documents: ``wanted``, or one per core when None."""
    if wanted is None:
        return default_jobs()
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise ConfigError(
            f"{wanted!r} drawing processes are not possible ({setting('jobs')}).",
            f"Give {setting('jobs')} 1 or more: 1 draws documents in the sending process itself, "
            "N draws them in N processes; the default is one per core.",
        )
    return wanted


class DrawingPool:
    """Draws ``documents`` (in sending order) ahead of the sending, in ``jobs`` processes.

    ``wanted(document)`` says whether a document will be drawn at all (the ledger may already
    have it): only those are drawn ahead. ``draw(document)`` returns a document's PDF, drawn
    ahead or now. With ``jobs == 1`` nothing is started and ``draw`` draws in this process.
    Thread-safe: the run's connections may ask at the same time.
    """

    def __init__(
        self,
        documents: Iterable[PlannedDocument],
        jobs: int,
        *,
        wanted: Callable[[PlannedDocument], bool] = lambda document: True,
        ahead: int | None = None,
    ) -> None:
        self.jobs = jobs
        self._order = list(documents)
        self._place = {document.path: index for index, document in enumerate(self._order)}
        self._wanted = wanted
        self._ahead = ahead if ahead is not None else 2 * jobs
        self._lock = threading.Lock()
        self._cursor = 0  # the next document to consider for drawing ahead
        self._reached = 0  # the furthest document asked for so far
        self._futures: dict[Path, Future[_Answer]] = {}
        self._jobs: _Jobs = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self.by_workers = 0  # documents drawn by the worker processes
        if jobs > 1 and self._order and sys.executable:
            try:
                for n in range(jobs):
                    self._workers.append(_Worker(self._jobs, n))
            except OSError:  # no process can be started here: what started draws, or this one
                pass
            with self._lock:
                self._fill()

    def __enter__(self) -> DrawingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers; documents drawn ahead and not asked for are dropped."""
        with self._lock:
            workers, self._workers = self._workers, []
            futures, self._futures = self._futures, {}
        for future in futures.values():
            future.cancel()
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            worker.stop()

    def draw(self, document: PlannedDocument) -> RenderedDocument:
        """This document's PDF: drawn by a worker (ahead, or now), else in this process."""
        with self._lock:
            future = self._futures.pop(document.path, None)
            place = self._place.get(document.path)
            if place is not None:
                self._reached = max(self._reached, place + 1)
                self._drop_passed()
            if future is None and self._live():
                future = self._submit(document)
            self._fill()
        if future is None:
            return document.render()
        try:
            made, message, hint = future.result()
        except WorkerGone:  # draw it here; the other workers go on
            return document.render()
        if made is None:
            raise DocumentError(message, hint)
        with self._lock:
            self.by_workers += 1
        return made

    # -- inside, under the lock ---------------------------------------------------------
    def _live(self) -> bool:
        return any(worker.alive for worker in self._workers)

    def _submit(self, document: PlannedDocument) -> Future[_Answer]:
        future: Future[_Answer] = Future()
        self._jobs.put((document, future))
        return future

    def _fill(self) -> None:
        """Keep ``ahead`` documents drawing beyond the furthest one asked for."""
        if not self._live():
            return
        self._cursor = max(self._cursor, self._reached)
        while self._cursor < len(self._order) and len(self._futures) < self._ahead:
            document = self._order[self._cursor]
            self._cursor += 1
            if document.path not in self._futures and self._wanted(document):
                self._futures[document.path] = self._submit(document)

    def _drop_passed(self) -> None:
        """Forget documents drawn ahead for messages the run has gone past (not sent now)."""
        behind = self._reached - 1 - self._ahead - self.jobs
        for path in [path for path in self._futures if self._place[path] < behind]:
            self._futures.pop(path).cancel()


class _Worker:
    """One drawing process and the thread in this process that feeds it jobs."""

    def __init__(self, jobs: _Jobs, n: int) -> None:
        self._jobs = jobs
        self.alive = True
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self._thread = threading.Thread(target=self._feed, name=f"docmail-draw-{n}", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        while True:
            item = self._jobs.get()
            if item is None:
                break
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                _write(self.process.stdin, pickle.dumps(job))
                answer = pickle.loads(_read(self.process.stdout))  # noqa: S301 - our own worker
            except (OSError, EOFError, pickle.PickleError, WorkerGone) as exc:
                self.alive = False
                future.set_exception(WorkerGone(str(exc)))
                break
            future.set_result(answer)
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def stop(self) -> None:
        """Wait for the process to end after its input closed (killed if it does not)."""
        self._thread.join(timeout=60)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _write(stream: IO[bytes], data: bytes) -> None:
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise WorkerGone("the drawing process ended")
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise WorkerGone("the drawing process ended")
    return data


# The worker: the parent's import path, then jobs from stdin until it closes.
_WORKER_CODE = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from docmail_nb._run.drawpool import serve; serve()"
)


def _draw(document: PlannedDocument) -> _Answer:
    """In a drawing process: the document, or why it cannot be made (in plain words)."""
    try:
        return document.render(), "", ""
    except DocmailError as exc:
        return None, exc.message, exc.hint


def serve() -> None:
    """A drawing process's loop: a job in, its answer out, until the input closes."""
    import weasyprint  # loaded before the first job arrives

    from docmail_nb._documents.render import drawing_setup

    drawing_setup(weasyprint)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not break the answers
    while True:
        try:
            job = pickle.loads(_read(source))  # noqa: S301 - jobs come from our parent
        except WorkerGone:
            return
        _write(sink, pickle.dumps(_draw(job)))
