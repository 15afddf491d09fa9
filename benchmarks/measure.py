"""Run one command as a child process and measure it: wall time, CPU seconds, peak RSS."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Usage:
    wall: float  # seconds from start to exit, interpreter start-up and imports included
    cpu: float  # user + system seconds of the process and the children it waited for
    peak_rss_mb: float  # largest resident set of the process (or of one of its children)
    exit_code: int


class Timeout(RuntimeError):
    """A benchmark command ran longer than allowed and was killed."""


def run_measured(
    cmd: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = 1800.0,
) -> Usage:
    """Run ``cmd`` with output into ``log``; measured with ``wait4`` (the kernel's own counts).

    The child runs in a new session: no controlling terminal, so a password prompt reads the
    given ``stdin`` instead of the user's terminal.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            if stdin is not None and proc.stdin is not None:
                try:
                    proc.stdin.write(stdin)
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if killed.is_set():
        raise Timeout(f"{' '.join(cmd[:3])} ... ran longer than {timeout:.0f} s; see {log}")
    return Usage(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        exit_code=proc.returncode,
    )
