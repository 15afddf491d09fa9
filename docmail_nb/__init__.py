"""docmail_nb: send documents by e-mail from a spreadsheet, through your own SMTP server.

One batch is the door: the orders, the template, every row checked, then a preview, what a run
would send now, and the run itself, each message once::

    batch = Batch.from_files("orders.xlsx", "invoice.txt", sheet="Rechnungen", profile="office")
    print(batch.plan.summary())        # every problem of every row, before anything is sent
    batch.preview(2)                   # exactly what row 2 will send
    report = batch.send()              # each message once, recorded in the ledger

A DataFrame you already have: ``Batch(read_orders(frame), load_template("invoice.txt"))``.

The notebook panels live in ``docmail_nb.widgets``.

Importing the package is cheap: each name is imported from its module on first use
(PEP 562), so a command that needs no spreadsheet never loads pandas, Jinja or the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docmail_nb._auth.signin import sign_in, sign_out
    from docmail_nb._compose.message import Attachment, Draft
    from docmail_nb._compose.plan import Plan
    from docmail_nb._compose.preview import Preview, preview
    from docmail_nb._compose.rows import Problem
    from docmail_nb._compose.sandbox import make_environment
    from docmail_nb._compose.templates import MessageTemplate, load_template, parse_template
    from docmail_nb._documents.payment_references import qr_reference
    from docmail_nb._documents.qrbill import check_payment
    from docmail_nb._documents.render import DocumentRenderer, load_document_template
    from docmail_nb._mail.diagnosis import diagnose
    from docmail_nb._mail.sink import CapturedMessage, CaptureServer
    from docmail_nb._mail.smtp import Delivery, connect, deliver, test_connection
    from docmail_nb._mail.transport import MemoryTransport, SMTPTransport, Transport
    from docmail_nb._mailbox.imap import MailboxCheck, check_mailbox, open_mailbox
    from docmail_nb._mailbox.reconcile import MailboxSync, sync_mailbox
    from docmail_nb._money.payments import PaymentsRead, read_payments
    from docmail_nb._run.send import MessageResult, Report, SendOptions
    from docmail_nb._sample import sample_dir
    from docmail_nb._sheets.orders import Orders, read_orders, sheet_names
    from docmail_nb._store.copy import CopyResult, copy_ledger
    from docmail_nb._store.ledger import Ledger, ledger_name
    from docmail_nb._store.ledger_store import default_ledger_path, ledger_target
    from docmail_nb._store.presets import PRESETS, USUAL_PORT, Limits, Preset
    from docmail_nb._store.profiles import (
        Profile,
        docmail_home,
        list_profiles,
        load_profile,
        profile_from_preset,
        remove_profile,
        save_profile,
    )
    from docmail_nb._store.records import Entry
    from docmail_nb._store.secrets import forget_password, get_password, has_password, set_password
    from docmail_nb._store.status import KeyStatus, campaign_status, save_status, status_lines
    from docmail_nb.batch import Batch
    from docmail_nb.errors import (
        BatchFailed,
        ConfigError,
        Diagnosis,
        DocmailError,
        DocumentError,
        InputError,
        LedgerError,
        MailboxError,
        OrdersError,
        PaymentFileError,
        ProfileError,
        SecretStoreError,
        SignInProblem,
        SMTPProblem,
        TemplateError,
    )

__all__ = [
    "PRESETS",
    "USUAL_PORT",
    "Attachment",
    "Batch",
    "BatchFailed",
    "CaptureServer",
    "CapturedMessage",
    "ConfigError",
    "CopyResult",
    "Delivery",
    "Diagnosis",
    "DocmailError",
    "DocumentError",
    "DocumentRenderer",
    "Draft",
    "Entry",
    "InputError",
    "KeyStatus",
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
    "PaymentFileError",
    "PaymentsRead",
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
    "campaign_status",
    "check_mailbox",
    "check_payment",
    "connect",
    "copy_ledger",
    "default_ledger_path",
    "deliver",
    "diagnose",
    "docmail_home",
    "forget_password",
    "get_password",
    "has_password",
    "ledger_name",
    "ledger_target",
    "list_profiles",
    "load_document_template",
    "load_profile",
    "load_template",
    "make_environment",
    "open_mailbox",
    "parse_template",
    "preview",
    "profile_from_preset",
    "qr_reference",
    "read_orders",
    "read_payments",
    "remove_profile",
    "sample_dir",
    "save_profile",
    "save_status",
    "set_password",
    "sheet_names",
    "sign_in",
    "sign_out",
    "status_lines",
    "sync_mailbox",
    "test_connection",
]

# Where each public name lives.
_WHERE = {
    "check_payment": "_documents.qrbill",
    "qr_reference": "_documents.payment_references",
    "DocumentRenderer": "_documents.render",
    "load_document_template": "_documents.render",
    "sign_in": "_auth.signin",
    "sign_out": "_auth.signin",
    "Batch": "batch",
    "diagnose": "_mail.diagnosis",
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
    "PaymentFileError": "errors",
    "Entry": "_store.records",
    "Ledger": "_store.ledger",
    "default_ledger_path": "_store.ledger_store",
    "ledger_name": "_store.ledger",
    "ledger_target": "_store.ledger_store",
    "copy_ledger": "_store.copy",
    "CopyResult": "_store.copy",
    "MailboxCheck": "_mailbox.imap",
    "check_mailbox": "_mailbox.imap",
    "open_mailbox": "_mailbox.imap",
    "Attachment": "_compose.message",
    "Draft": "_compose.message",
    "Orders": "_sheets.orders",
    "read_orders": "_sheets.orders",
    "sheet_names": "_sheets.orders",
    "Plan": "_compose.plan",
    "Problem": "_compose.rows",
    "Preview": "_compose.preview",
    "preview": "_compose.preview",
    "PRESETS": "_store.presets",
    "USUAL_PORT": "_store.presets",
    "Limits": "_store.presets",
    "Preset": "_store.presets",
    "Profile": "_store.profiles",
    "docmail_home": "_store.profiles",
    "forget_password": "_store.secrets",
    "get_password": "_store.secrets",
    "has_password": "_store.secrets",
    "list_profiles": "_store.profiles",
    "load_profile": "_store.profiles",
    "profile_from_preset": "_store.profiles",
    "remove_profile": "_store.profiles",
    "save_profile": "_store.profiles",
    "set_password": "_store.secrets",
    "MailboxSync": "_mailbox.reconcile",
    "sync_mailbox": "_mailbox.reconcile",
    "PaymentsRead": "_money.payments",
    "read_payments": "_money.payments",
    "KeyStatus": "_store.status",
    "campaign_status": "_store.status",
    "save_status": "_store.status",
    "status_lines": "_store.status",
    "sample_dir": "_sample",
    "MessageResult": "_run.send",
    "Report": "_run.send",
    "SendOptions": "_run.send",
    "CapturedMessage": "_mail.sink",
    "CaptureServer": "_mail.sink",
    "Delivery": "_mail.smtp",
    "connect": "_mail.smtp",
    "deliver": "_mail.smtp",
    "test_connection": "_mail.smtp",
    "MessageTemplate": "_compose.templates",
    "load_template": "_compose.templates",
    "make_environment": "_compose.sandbox",
    "parse_template": "_compose.templates",
    "MemoryTransport": "_mail.transport",
    "SMTPTransport": "_mail.transport",
    "Transport": "_mail.transport",
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
