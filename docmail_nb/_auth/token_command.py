"""A command of the user's that prints an access token."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from docmail_nb._auth.tokens import (
    AccessToken,
    shortened,
    sign_in_trouble,
)
from docmail_nb._store.profiles import Profile

__all__ = ["TOKEN_COMMAND_TIMEOUT", "run_token_command"]


TOKEN_COMMAND_TIMEOUT = 60.0


def run_token_command(profile: Profile, clock: Callable[[], float]) -> AccessToken:
    """Run the profile's command; its standard output is the token (or JSON holding it)."""
    try:
        done = subprocess.run(  # noqa: S602
            profile.token_command,
            shell=True,
            capture_output=True,
            text=True,
            timeout=TOKEN_COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise sign_in_trouble(
            "token_command_failed", profile, f"no answer within {TOKEN_COMMAND_TIMEOUT:g} s"
        ) from None
    except OSError as exc:
        raise sign_in_trouble("token_command_failed", profile, shortened(exc)) from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        said = f": {lines[-1][:200]}" if lines else ""
        raise sign_in_trouble(
            "token_command_failed", profile, f"exit status {done.returncode}{said}"
        )
    output = done.stdout.strip()
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
