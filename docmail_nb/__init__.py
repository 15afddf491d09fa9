"""docmail_nb: send documents by e-mail from a spreadsheet, through your own SMTP server.

The flow, one function per step::

    orders = read_orders("orders.xlsx", sheet="Rechnungen")
    plan = make_plan(orders, load_template("invoice.txt"), documents="documents/")
    preview(plan, row=2)                       # exactly what row 2 will send
    report = send_plan(plan, load_profile())   # each message once, recorded in the ledger

The notebook panels live in ``docmail_nb.widgets``.
"""

from __future__ import annotations

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
