"""The public surface is deliberate: adding or removing a name must change this test."""

from __future__ import annotations

import docmail_nb
import docmail_nb.widgets

PUBLIC = {
    # errors
    "DocmailError", "ConfigError", "ProfileError", "SecretStoreError", "InputError",
    "OrdersError", "TemplateError", "DocumentError", "SMTPProblem", "LedgerError", "BatchFailed",
    "SignInProblem",
    # profiles and SMTP
    "Profile", "Limits", "Preset", "PRESETS", "USUAL_PORT", "profile_from_preset",
    "docmail_home", "list_profiles", "load_profile", "save_profile", "remove_profile",
    "set_password", "get_password", "has_password", "forget_password",
    "Diagnosis", "Delivery", "connect", "deliver", "diagnose", "test_connection",
    "sign_in", "sign_out",
    # orders, templates, plan
    "Orders", "read_orders", "sheet_names", "MessageTemplate", "parse_template",
    "load_template", "make_environment", "Plan", "Draft", "Problem", "Attachment", "Preview",
    "preview",
    # sending and the ledger
    "Ledger", "Entry", "default_ledger_path", "SendOptions", "Report", "MessageResult",
    "ledger_name", "ledger_target", "copy_ledger", "CopyResult",
    "Batch", "Transport", "SMTPTransport", "MemoryTransport",
    # the mailbox (IMAP): Sent folder, copies, reconcile
    "MailboxError", "MailboxCheck", "MailboxSync", "open_mailbox", "check_mailbox",
    "sync_mailbox",
    # documents: drawn from HTML, with a checked Swiss QR-bill
    "DocumentRenderer", "load_document_template", "check_payment", "qr_reference",
    # after sent: bounces (sync_mailbox), payments from the bank, each message's state
    "PaymentFileError", "PaymentsRead", "read_payments", "KeyStatus", "campaign_status",
    "save_status", "status_lines",
    # capture server and sample data
    "CaptureServer", "CapturedMessage", "sample_dir",
}  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert set(docmail_nb.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(docmail_nb, name) is not None, name


def test_errors_share_one_base() -> None:
    for name in PUBLIC:
        value = getattr(docmail_nb, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, docmail_nb.DocmailError), name


def test_widgets_are_a_separate_import() -> None:
    assert set(docmail_nb.widgets.__all__) == {"SettingsPanel", "SendPanel"}
