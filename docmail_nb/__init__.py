"""docmail_nb: send documents by e-mail from a spreadsheet, through your own SMTP server."""

from __future__ import annotations

from .errors import (
    ConfigError,
    DocmailError,
    InputError,
    LedgerError,
    OrdersError,
    ProfileError,
    SecretStoreError,
    SMTPProblem,
    TemplateError,
)

__all__ = [
    "ConfigError",
    "DocmailError",
    "InputError",
    "LedgerError",
    "OrdersError",
    "ProfileError",
    "SMTPProblem",
    "SecretStoreError",
    "TemplateError",
]
