"""docmail_nb: send documents by e-mail from a spreadsheet, through your own SMTP server.

The flow, one function per step::

    orders = read_orders("orders.xlsx", sheet="Rechnungen")
    plan = make_plan(orders, load_template("invoice.txt"), documents="documents/")
    preview(plan, row=2)                       # exactly what row 2 will send
    report = send_plan(plan, load_profile())   # each message once, recorded in the ledger

The notebook panels live in ``docmail_nb.widgets``.

Importing the package is cheap: each name is imported from its module on first use
(PEP 562), so a command that needs no spreadsheet never loads pandas, Jinja or the rest.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .auth import sign_in, sign_out
    from .batch import Batch
    from .diagnosis import diagnose
    from .errors import (
        BatchFailed,
        ConfigError,
        Diagnosis,
        DocmailError,
        DocumentError,
        InputError,
        LedgerError,
        MailboxError,
        OrdersError,
        ProfileError,
        SecretStoreError,
        SignInProblem,
        SMTPProblem,
        TemplateError,
    )
    from .ledger import Entry, Ledger, default_ledger_path
    from .mailbox import MailboxCheck, check_mailbox, open_mailbox
    from .message import Attachment, Draft
    from .orders import Orders, read_orders, sheet_names
    from .plan import Plan, Problem, make_plan, plan_from_files
    from .preview import Preview, preview
    from .profiles import (
        PRESETS,
        USUAL_PORT,
        Limits,
        Preset,
        Profile,
        docmail_home,
        forget_password,
        get_password,
        has_password,
        list_profiles,
        load_profile,
        profile_from_preset,
        remove_profile,
        save_profile,
        set_password,
    )
    from .reconcile import MailboxSync, sync_mailbox
    from .sample import sample_dir
    from .send import MessageResult, Report, SendOptions, send_plan, send_test
    from .sink import CapturedMessage, CaptureServer
    from .smtp import Delivery, connect, deliver, test_connection
    from .templates import MessageTemplate, load_template, make_environment, parse_template
    from .transport import MemoryTransport, SMTPTransport, Transport

__all__ = [
    "PRESETS",
    "USUAL_PORT",
    "Attachment",
    "Batch",
    "BatchFailed",
    "CaptureServer",
    "CapturedMessage",
    "ConfigError",
    "Delivery",
    "Diagnosis",
    "DocmailError",
    "DocumentError",
    "Draft",
    "Entry",
    "InputError",
    "Ledger",
    "LedgerError",
    "Limits",
    "MailboxCheck",
    "MailboxError",
    "MailboxSync",
    "MemoryTransport",
    "MessageResult",
    "MessageTemplate",
    "Orders",
    "OrdersError",
    "Plan",
    "Preset",
    "Preview",
    "Problem",
    "Profile",
    "ProfileError",
    "Report",
    "SMTPProblem",
    "SMTPTransport",
    "SecretStoreError",
    "SendOptions",
    "SignInProblem",
    "TemplateError",
    "Transport",
    "check_mailbox",
    "connect",
    "default_ledger_path",
    "deliver",
    "diagnose",
    "docmail_home",
    "forget_password",
    "get_password",
    "has_password",
    "list_profiles",
    "load_profile",
    "load_template",
    "make_environment",
    "make_plan",
    "open_mailbox",
    "parse_template",
    "plan_from_files",
    "preview",
    "profile_from_preset",
    "read_orders",
    "remove_profile",
    "sample_dir",
    "save_profile",
    "send_plan",
    "send_test",
    "set_password",
    "sheet_names",
    "sign_in",
    "sign_out",
    "sync_mailbox",
    "test_connection",
]

# Where each public name lives.
_WHERE = {
    "sign_in": "auth",
    "sign_out": "auth",
    "Batch": "batch",
    "diagnose": "diagnosis",
    "BatchFailed": "errors",
    "ConfigError": "errors",
    "Diagnosis": "errors",
    "DocmailError": "errors",
    "DocumentError": "errors",
    "InputError": "errors",
    "LedgerError": "errors",
    "MailboxError": "errors",
    "OrdersError": "errors",
    "ProfileError": "errors",
    "SecretStoreError": "errors",
    "SignInProblem": "errors",
    "SMTPProblem": "errors",
    "TemplateError": "errors",
    "Entry": "ledger",
    "Ledger": "ledger",
    "default_ledger_path": "ledger",
    "MailboxCheck": "mailbox",
    "check_mailbox": "mailbox",
    "open_mailbox": "mailbox",
    "Attachment": "message",
    "Draft": "message",
    "Orders": "orders",
    "read_orders": "orders",
    "sheet_names": "orders",
    "Plan": "plan",
    "Problem": "plan",
    "make_plan": "plan",
    "plan_from_files": "plan",
    "Preview": "preview",
    "preview": "preview",
    "PRESETS": "profiles",
    "USUAL_PORT": "profiles",
    "Limits": "profiles",
    "Preset": "profiles",
    "Profile": "profiles",
    "docmail_home": "profiles",
    "forget_password": "profiles",
    "get_password": "profiles",
    "has_password": "profiles",
    "list_profiles": "profiles",
    "load_profile": "profiles",
    "profile_from_preset": "profiles",
    "remove_profile": "profiles",
    "save_profile": "profiles",
    "set_password": "profiles",
    "MailboxSync": "reconcile",
    "sync_mailbox": "reconcile",
    "sample_dir": "sample",
    "MessageResult": "send",
    "Report": "send",
    "SendOptions": "send",
    "send_plan": "send",
    "send_test": "send",
    "CapturedMessage": "sink",
    "CaptureServer": "sink",
    "Delivery": "smtp",
    "connect": "smtp",
    "deliver": "smtp",
    "test_connection": "smtp",
    "MessageTemplate": "templates",
    "load_template": "templates",
    "make_environment": "templates",
    "parse_template": "templates",
    "MemoryTransport": "transport",
    "SMTPTransport": "transport",
    "Transport": "transport",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package: a public name that is also a module's name (``preview``) stays the
    function, as with an eager import, when the import system binds that submodule."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
