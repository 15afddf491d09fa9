"""Starting the command line in a child process the way a terminal would."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """``preexec_fn``: let Ctrl-C reach the child even when the tests run in the background.

    A shell starts background jobs with SIGINT ignored, an ignored signal stays ignored across
    exec, and Python then never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
