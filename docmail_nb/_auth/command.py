"""A token command run with bounds: its output capped, its whole process group ended.

A profile's token command is a shell command line (``az account get-access-token …``). It
runs in a process group of its own; standard output (the token) is read up to
``MAX_OUTPUT`` bytes and standard error up to ``MAX_ERROR`` bytes (the rest is read and
thrown away, so the command never blocks on a full pipe). On timeout, or when it prints more
than a token, the whole group is killed: the shell and every child it started.

What the command says on standard error may hold a secret (``refresh_token=…``): it is
returned as ``error_tail`` (the last line, shortened, anything after ``=`` or ``:`` of a
secret-looking word masked) for the caller to show once, never to put into a problem text.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO

__all__ = [
    "MAX_ERROR",
    "MAX_OUTPUT",
    "SHOWN_ERROR",
    "CommandResult",
    "mask_secrets",
    "run_bounded",
]

#: the most a token command may print on standard output (a token, or JSON holding one)
MAX_OUTPUT = 64 * 1024
#: how much of standard error is kept (its end is what is shown)
MAX_ERROR = 16 * 1024
#: the longest error line shown
SHOWN_ERROR = 160

_SECRET = re.compile(
    r"(?i)((?:refresh|access|id)?_?token|secret|password|passwd|pwd|assertion|code|key|bearer)"
    r"(\s*[=:]\s*|\s+)(\S+)"
)
_LONG_RUN = re.compile(r"[A-Za-z0-9_\-.~+/]{32,}={0,2}")


@dataclass(frozen=True)
class CommandResult:
    """How a token command ended: its output, or why there is none."""

    returncode: int | None  # None: it was stopped (timeout or too much output)
    output: str
    error_tail: str  # the last line of standard error, shortened and masked
    trouble: str = ""  # "timeout" or "too_much_output"


def mask_secrets(text: str) -> str:
    """``text`` with values of secret-looking words and long token-like runs masked."""
    text = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _LONG_RUN.sub("***", text)


def _drain(stream: IO[bytes], keep: int, into: list[bytes], over: threading.Event) -> None:
    kept = 0
    while chunk := os.read(stream.fileno(), 65536):
        if kept < keep:
            into.append(chunk[: keep - kept])
        kept += len(chunk)
        if kept > keep:
            over.set()
    stream.close()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def run_bounded(command: str, timeout: float) -> CommandResult:
    """Run ``command`` through the shell with the bounds described above."""
    process = subprocess.Popen(  # noqa: S602 - the user's own command line, as configured
        command,
        shell=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out: list[bytes] = []
    err: list[bytes] = []
    too_much = threading.Event()
    ignored = threading.Event()
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, MAX_OUTPUT, out, too_much)),
        threading.Thread(target=_drain, args=(process.stderr, MAX_ERROR, err, ignored)),
    ]
    for reader in readers:
        reader.daemon = True
        reader.start()
    trouble = ""
    deadline = time.monotonic() + timeout
    while not trouble:
        try:
            process.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            if too_much.is_set():
                trouble = "too_much_output"
            elif time.monotonic() >= deadline:
                trouble = "timeout"
    if too_much.is_set() and not trouble:
        trouble = "too_much_output"
    if trouble:
        _kill_group(process)
        process.wait()
    else:
        _kill_group(process)  # children it left behind hold no pipe open
    for reader in readers:
        reader.join(5)
    lines = b"".join(err).decode("utf-8", "replace").strip().splitlines()
    tail = mask_secrets(lines[-1].strip()) if lines else ""
    if len(tail) > SHOWN_ERROR:
        tail = tail[: SHOWN_ERROR - 1] + "…"
    return CommandResult(
        None if trouble else process.returncode,
        b"".join(out).decode("utf-8", "replace"),
        tail,
        trouble,
    )
