"""The scheduled job's parameters and their checks: what papermill passes, checked into a
:class:`Job`.

:func:`job_from_parameters` refuses a parameter named like a secret, holding one (the profile's
password, a ``DOCMAIL_*`` value) or unknown to the notebook, undoes papermill's number
conversion where it matters, and fills in the sample when no orders are given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from docmail_nb.errors import ConfigError
from docmail_nb.words import speak_as

__all__ = [
    "PARAMETER_NAMES",
    "Job",
    "job_from_parameters",
    "job_secrets",
    "notebook_parameters",
    "refuse_secret_parameters",
    "refuse_secret_values",
]

#: parameter names that look like they carry a secret
_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)|pwd|secret|token|api_?key|credential|private_?key", re.IGNORECASE
)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_SECRET_HINT = (
    "Store the password in the keyring (docmail profile add NAME ... --password-stdin) "  # noqa: S105
    "or set DOCMAIL_SMTP_PASSWORD in the job's environment, and delete this output "
    "notebook, which now holds the value."
)
#: globals IPython puts into every notebook's namespace that hold plain values
_IPYTHON_NAMES = frozenset({"In", "Out"})
#: the types of the values papermill passes as parameters
_PARAMETER_TYPES = (str, int, float, bool, list, dict, tuple, Path)


@dataclass(frozen=True)
class Job:
    """The checked parameters of one scheduled run."""

    orders: Path
    template: Path
    sheet: str | None
    documents: Path | None
    profile: str | None
    ledger: Path | str | None  # a file, a PostgreSQL URL (no password), None: the default
    dry_run: bool
    limit: int | None
    rate: float | None
    connections: int
    report: Path | None
    fail_on_problems: bool
    fail_on_errors: bool
    jobs: int | None = None  # processes drawing documents; None: one per core
    is_sample: bool = False


#: the notebook's parameters, named like the options of ``docmail send``
PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Job) if f.name != "is_sample")
#: parameters a notebook made before they existed may lack (their default then holds)
_OPTIONAL = frozenset({"jobs"})


def refuse_secret_parameters(names: Mapping[str, Any] | list[str]) -> None:
    """Raise ConfigError when a name looks like a password, token or key (never its value)."""
    suspicious = sorted(
        name for name in names if not name.startswith("_") and _SECRET_NAME.search(name)
    )
    if suspicious:
        raise ConfigError(
            f"Refusing the notebook parameter {', '.join(suspicious)}: it looks like a secret, "
            "and papermill writes every parameter into the output notebook in plain text.",
            _SECRET_HINT,
        )


def notebook_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters among a notebook's globals: the plain values papermill can pass.

    Modules, functions, IPython's own names (``In``, ``Out``, ``_``…) and objects a cell made
    are left out; what is left came from the parameters cell or from papermill.
    """
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_")
        and name not in _IPYTHON_NAMES
        and (value is None or isinstance(value, _PARAMETER_TYPES))
    }


def refuse_secret_values(parameters: Mapping[str, Any], secrets: Iterable[str]) -> None:
    """Raise ConfigError when a parameter's value is (or holds) a secret, whatever its name.

    The error names the parameter, never the value.
    """
    known = [secret.strip() for secret in secrets if secret and secret.strip()]
    if not known:
        return
    carrying = sorted(
        name
        for name, value in parameters.items()
        if any(_holds_secret(text, secret) for text in _texts(value) for secret in known)
    )
    if carrying:
        raise ConfigError(
            f"Refusing the notebook parameter {', '.join(carrying)}: its value is a password "
            "or another secret docmail knows, and papermill writes every parameter into the "
            "output notebook in plain text.",
            _SECRET_HINT,
        )


def job_secrets(profile: str | None) -> list[str]:
    """The secrets a parameter must never hold: the profile's password (keyring or environment)
    and every ``DOCMAIL_*`` variable named like a secret (``DOCMAIL_SMTP_PASSWORD``)."""
    from docmail_nb import get_password, list_profiles

    found = [
        value
        for name, value in os.environ.items()
        if name.startswith("DOCMAIL_") and _SECRET_NAME.search(name)
    ]
    names = [profile] if profile else [p.name for p in list_profiles()]
    for name in names:
        password = get_password(name)
        if password:
            found.append(password)
    return found


def job_from_parameters(namespace: Mapping[str, Any]) -> Job:
    """Check the notebook's parameters (pass ``globals()``) and fill in the sample defaults.

    A parameter named like a secret, holding a secret (the profile's password, a ``DOCMAIL_*``
    value) or unknown to the notebook is refused. Empty ``orders`` and ``template`` mean the
    sample invoices (and, unless given, the sample documents).
    """
    speak_as("papermill")  # from here on, settings are named as papermill parameters
    _check_parameters(namespace)
    values = {name: namespace.get(name) for name in PARAMETER_NAMES}
    orders = _path("orders", values["orders"])
    template = _path("template", values["template"])
    documents = _path("documents", values["documents"])
    if (orders is None) != (template is None):
        given, empty = ("orders", "template") if template is None else ("template", "orders")
        raise ConfigError(
            f"The parameter {given} is set but {empty} is empty.",
            "Pass both orders and template, or neither to run the sample invoices.",
        )
    is_sample = orders is None
    if orders is None or template is None:
        orders, template, documents = _sample_files(documents)
    return Job(
        orders=orders,
        template=template,
        sheet=_identifier("sheet", values["sheet"]),
        documents=documents,
        profile=_identifier("profile", values["profile"]),
        ledger=_ledger(values["ledger"]),
        dry_run=_flag("dry_run", values["dry_run"]),
        limit=_count("limit", values["limit"]),
        rate=_rate(values["rate"]),
        connections=_count("connections", values["connections"]) or 1,
        report=_path("report", values["report"]),
        fail_on_problems=_flag("fail_on_problems", values["fail_on_problems"]),
        fail_on_errors=_flag("fail_on_errors", values["fail_on_errors"]),
        jobs=_count("jobs", values["jobs"]),
        is_sample=is_sample,
    )


def _check_parameters(namespace: Mapping[str, Any]) -> None:
    """Refuse secrets among the parameters, unknown parameters and missing ones."""
    parameters = notebook_parameters(namespace)
    refuse_secret_parameters(list(parameters))
    profile_name = namespace.get("profile")
    refuse_secret_values(
        parameters, job_secrets(profile_name if isinstance(profile_name, str) else None)
    )
    unknown = sorted(set(parameters) - set(PARAMETER_NAMES))
    if unknown:
        raise ConfigError(
            f"Unknown notebook parameter {', '.join(unknown)}.",
            f"The parameters are: {', '.join(PARAMETER_NAMES)} (named like the options of "
            "docmail send); check the spelling.",
        )
    missing = [name for name in PARAMETER_NAMES if name not in namespace and name not in _OPTIONAL]
    if missing:
        raise ConfigError(
            f"The notebook lacks the parameter(s) {', '.join(missing)}.",
            "Use the parameters cell of notebooks/scheduled_send.ipynb as it ships.",
        )


def _sample_files(documents: Path | None) -> tuple[Path, Path, Path]:
    """The sample's orders and template, and its documents unless ``documents`` is given."""
    from docmail_nb._sample import sample_dir

    sample = sample_dir()
    return (
        sample / "orders.xlsx",
        sample / "templates" / "invoice.txt",
        documents or (sample / "documents"),
    )


def _path(name: str, value: Any) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | Path):
        raise ConfigError(
            f"The parameter {name} must be a file or folder path, not {value!r}.",
            f"Pass it as text: -r {name} PATH.",
        )
    return Path(value).expanduser()


def _ledger(value: Any) -> Path | str | None:
    """A ledger file, or a PostgreSQL URL without its password (papermill keeps parameters)."""
    from docmail_nb import ledger_name, ledger_target

    if value is not None and not isinstance(value, str | Path):
        return _path("ledger", value)  # says what it must be
    target = ledger_target(value)
    if isinstance(target, str) and ledger_name(target) != target:
        raise ConfigError(
            "Refusing the parameter ledger: its URL carries the database password, and "
            "papermill writes every parameter into the output notebook in plain text.",
            "Leave the password out of the URL and give it to the job as PGPASSWORD or in "
            "~/.pgpass (or set the whole URL as DOCMAIL_LEDGER in the job's environment); "
            "delete this output notebook, which now holds the password.",
        )
    return target


def _identifier(name: str, value: Any) -> str | None:
    """A name such as a sheet or a profile: text only, since ``-p`` turns ``00123`` into 123."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise ConfigError(
        f"The parameter {name} arrived as the number {value!r}: papermill's -p converts "
        "values that look like numbers (00123 becomes 123).",
        f"Pass names and identifiers raw, exactly as written: -r {name} VALUE.",
    )


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(
        f"The parameter {name} must be True or False, not {value!r}.",
        f"Pass -p {name} True or -p {name} False.",
    )


def _count(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ConfigError(
        f"The parameter {name} must be a whole number above 0, not {value!r}.",
        f"Pass for example -p {name} 10, or leave it at None.",
    )


def _rate(value: Any) -> float | None:
    from docmail_nb.batch import messages_per_minute

    return messages_per_minute(value)


def _texts(value: Any) -> Iterator[str]:
    """Every text in a parameter value (lists and dicts looked into)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _holds_secret(text: str, secret: str) -> bool:
    """Equal to the secret, or holding it (a secret of 8 characters or more)."""
    text = text.strip()
    return text == secret or (len(secret) >= 8 and secret in text)
