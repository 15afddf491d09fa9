"""Sign-in trouble in plain words: what went wrong with a provider's sign-in, and what to do."""

from __future__ import annotations

from docmail_nb._store.profiles import Profile
from docmail_nb.errors import (
    Diagnosis,
)
from docmail_nb.words import setting

__all__ = ["SIGN_IN_PROBLEMS", "provider_label", "sign_in_problem"]


#: kind -> (summary, hint); placeholders: name, user, provider, tenant, client_id, detail
SIGN_IN_PROBLEMS: dict[str, tuple[str, str]] = {
    "not_signed_in": (
        "Profile {name!r} is not signed in to {provider} on this computer.",
        "Sign in once with: docmail login {name} (the sign-in is kept in the keyring).",
    ),
    "signin_expired": (
        "The sign-in of profile {name!r} with {provider} has expired or was revoked ({detail}).",
        "Sign in again with: docmail login {name}",
    ),
    "google_testing_app": (
        "The Google sign-in of profile {name!r} ended after {days} days ({detail}): Google "
        "deletes the refresh tokens of an OAuth app whose publishing status is 'Testing' after "
        "7 days.",
        "In Google Cloud > APIs & Services > OAuth consent screen set the app to 'Internal' "
        "(Google Workspace) or publish it, then sign in again with: docmail login {name}",
    ),
    "admin_consent_required": (
        "Your Microsoft 365 administrator has not yet approved the app {client_id} for "
        "sending mail ({detail}).",
        "An administrator must grant admin consent in Microsoft Entra > App registrations > "
        "{client_id} > API permissions (SMTP.Send, or SMTP.SendAsApp for app-only); see "
        "docs/connect.md. Then: docmail login {name}",
    ),
    "unknown_tenant": (
        "Microsoft does not know the tenant {tenant!r} of profile {name!r} ({detail}).",
        "Check {opt_tenant}: your organisation's domain (e.g. example.ch) or the Directory "
        "(tenant) ID shown in Microsoft Entra > Overview.",
    ),
    "unknown_client": (
        "The application (client) ID {client_id} of profile {name!r} is not registered in "
        "tenant {tenant!r} ({detail}).",
        "Check {opt_client_id} against Microsoft Entra > App registrations, and "
        "that {opt_tenant} is "
        "the tenant the app is registered in.",
    ),
    "bad_client_secret": (
        "Microsoft did not accept the client secret or certificate of app {client_id} ({detail}).",
        "Create a new client secret (Entra > App registrations > {client_id} > Certificates & "
        "secrets) and save it with 'docmail profile add {name} ... --auth oauth2-app' or set "
        "DOCMAIL_OAUTH_CLIENT_SECRET; a secret expires after the time chosen when it was made.",
    ),
    "no_client_secret": (
        "No client secret is known for the app-only profile {name!r}.",
        "Save it with 'docmail profile add {name} ... --auth oauth2-app' (kept in keyring), "
        "set DOCMAIL_OAUTH_CLIENT_SECRET for the job, or use {opt_certificate} PEM.",
    ),
    "bad_certificate": (
        "The certificate file of profile {name!r} cannot be used ({detail}).",
        "Give a PEM file that holds the unencrypted private key and its certificate, the one "
        "uploaded to the app in Microsoft Entra > Certificates & secrets.",
    ),
    "bad_client_secrets_file": (
        "The Google OAuth client file of profile {name!r} cannot be used ({detail}).",
        "Download it again from Google Cloud > APIs & Services > Credentials (OAuth client "
        "ID of type 'Desktop app') and give it with {opt_client_secrets} FILE.",
    ),
    "signin_failed": (
        "Signing in to {provider} for profile {name!r} failed ({detail}).",
        "Try again with: docmail login {name}; docs/connect.md explains the settings an "
        "administrator must make.",
    ),
    "signin_timeout": (
        "The sign-in of profile {name!r} was not completed in time ({detail}).",
        "Run 'docmail login {name}' again and finish the sign-in in the browser.",
    ),
    "identity_unreachable": (
        "The sign-in server of {provider} cannot be reached ({detail}).",
        "Check that this computer is online and that a proxy or firewall lets it through; "
        "with {opt_authority}, check that address.",
    ),
    "identity_untrusted": (
        "The certificate of the sign-in server of {provider} is not trusted ({detail}).",
        "For a company proxy or a private sign-in server, point REQUESTS_CA_BUNDLE at its CA "
        "certificate (a PEM file).",
    ),
    "token_command_failed": (
        "The token command of profile {name!r} failed ({detail}).",
        "Run the command yourself in a terminal and fix it (it may need a fresh sign-in of "
        "its own), or change it with 'docmail profile add {name} ... --token-command \"CMD\"'.",
    ),
    "token_command_empty": (
        "The token command of profile {name!r} printed no access token.",
        "The command must print the access token (or JSON with accessToken) on standard "
        "output; run it yourself to see what it prints.",
    ),
    "token_store_failed": (
        "The sign-in of profile {name!r} cannot be kept ({detail}).",
        "Install a working keyring backend (the system's credential store); docmail never "
        "writes tokens to a plain file.",
    ),
}


#: the profile settings the hints name, spelled as the face in use does
_OPTIONS = ("authority", "certificate", "client_id", "client_secrets", "tenant")


def provider_label(profile: Profile) -> str:
    """Who signs ``profile`` in, for messages: Microsoft, Google or the token command."""
    return {"google": "Google", "microsoft": "Microsoft"}.get(profile.provider, "the token command")


def sign_in_problem(kind: str, profile: Profile, detail: str = "", *, days: int = 0) -> Diagnosis:
    """The diagnosis ``kind`` of :data:`SIGN_IN_PROBLEMS` for ``profile`` (always fatal)."""
    summary, hint = SIGN_IN_PROBLEMS[kind]
    provider = provider_label(profile)
    values = {
        "name": profile.name,
        "user": profile.username,
        "provider": provider,
        "tenant": profile.tenant or "organizations",
        "client_id": profile.client_id,
        "detail": detail,
        "days": days,
        **{f"opt_{name}": setting(name) for name in _OPTIONS},
    }
    return Diagnosis(kind, summary.format(**values), hint.format(**values), outcome="fatal")
