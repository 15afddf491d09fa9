"""A command of the user's that prints an access token."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from docmail_nb._auth.command import MAX_OUTPUT, run_bounded
from docmail_nb._auth.tokens import (
    AccessToken,
    shortened,
    sign_in_trouble,
)
from docmail_nb._store.profiles import Profile

__all__ = ["TOKEN_COMMAND_TIMEOUT", "run_token_command"]


TOKEN_COMMAND_TIMEOUT = 60.0

_log = logging.getLogger("docmail_nb._auth.token_command")
_SHOWN_ERRORS: set[tuple[str, str]] = set()


def _show_error_once(profile: Profile, tail: str) -> None:
    """Log what a failing token command said (masked, shortened), once per profile and text."""
    if not tail or (profile.name, tail) in _SHOWN_ERRORS:
        return
    _SHOWN_ERRORS.add((profile.name, tail))
    _log.warning("The token command of profile %r said: %s", profile.name, tail)


def run_token_command(profile: Profile, clock: Callable[[], float]) -> AccessToken:
    """Run the profile's command; its standard output is the token (or JSON holding it).

    Bounded (``run_bounded``): output capped, the whole process group killed on timeout.
    What it said on standard error stays out of the problem, so out of reports and
    notebooks (it may hold a secret): its last line, shortened and masked, is logged once.
    """
    try:
        done = run_bounded(profile.token_command, TOKEN_COMMAND_TIMEOUT)
    except OSError as exc:
        raise sign_in_trouble("token_command_failed", profile, shortened(exc)) from None
    if done.trouble == "timeout":
        raise sign_in_trouble(
            "token_command_failed", profile, f"no answer within {TOKEN_COMMAND_TIMEOUT:g} s"
        )
    if done.trouble == "too_much_output":
        raise sign_in_trouble(
            "token_command_failed",
            profile,
            f"it printed more than {MAX_OUTPUT // 1024} KB, more than an access token",
        )
    if done.returncode != 0:
        _show_error_once(profile, done.error_tail)
        said = "; its last error line was shown once, as a warning" if done.error_tail else ""
        raise sign_in_trouble(
            "token_command_failed", profile, f"exit status {done.returncode}{said}"
        )
    output = done.output.strip()
    expires_at: float | None = None
    if output.startswith("{"):
        try:
            data = json.loads(output)
        except ValueError:
            data = {}
        output = str(data.get("accessToken") or data.get("access_token") or "")
        if data.get("expires_on"):
            expires_at = float(data["expires_on"])
        elif data.get("expires_in"):
            expires_at = clock() + float(data["expires_in"])
    token = output.splitlines()[0].strip() if output else ""
    if not token:
        raise sign_in_trouble("token_command_empty", profile)
    return AccessToken(token, expires_at, fresh=True)
