"""A real IMAP server for the tests: Debian's Dovecot on 127.0.0.1, started per test.

Each server gets its own configuration directory, passwd-file, Maildir and a trustme
certificate; it listens on two free ports (implicit TLS and STARTTLS) and runs as the current
user (as root: the login and internal processes run as the package's users and the mailbox
belongs to ``nobody``, since Dovecot never serves mail as root). No system service is touched.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import trustme
from servers import free_port

from docmail_nb._mailbox.folders import encode_folder_name

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "anna@example.ch"
PASSWORD = "correct horse"


@dataclass
class Stored:
    folder: str
    flags: str
    data: bytes

    @property
    def message_id(self) -> str:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        return str(msg["Message-ID"])


def available() -> bool:
    return Path(DOVECOT).exists()


class DovecotServer:
    """Dovecot with one user; ``folders`` are created, ``special_use`` marks them."""

    def __init__(
        self,
        ca: trustme.CA,
        *,
        folders: tuple[str, ...] = ("Sent",),
        special_use: dict[str, str] | None = None,
    ) -> None:
        self.ca = ca
        self.folders = folders
        self.special_use = {"Sent": "\\Sent"} if special_use is None else special_use
        self.host = "127.0.0.1"
        self.ssl_port = free_port()
        self.starttls_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="docmail-dovecot-"))
        self.maildir = self.dir / "mail"
        self._process: subprocess.Popen[bytes] | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _write_config(self) -> Path:
        root = os.geteuid() == 0
        self.dir.chmod(0o755)
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(self.dir / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(self.dir / "cert.pem"))
        if root:
            owner = pwd.getpwnam("nobody")
            login_user, internal_user = "dovenull", "dovecot"
        else:
            owner = pwd.getpwuid(os.geteuid())
            login_user = internal_user = owner.pw_name
        uid, gid = owner.pw_uid, owner.pw_gid
        self.maildir.mkdir()
        for folder in self.folders:  # Maildir++: INBOX is the root, folders are .Name
            self.add_folder(folder)
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(exist_ok=True)
        (self.maildir / "subscriptions").write_text(
            "".join(f"{encode_folder_name(f)}\n" for f in self.folders)
        )
        if root:
            for path in [self.maildir, *self.maildir.rglob("*")]:
                os.chown(path, uid, gid)
        (self.dir / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{self.dir}::\n", encoding="utf-8"
        )
        special = "".join(
            f'  mailbox "{name}" {{\n    special_use = {flag}\n  }}\n'
            for name, flag in self.special_use.items()
        )
        config = f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = docmail-test-{self.ssl_port}
listen = 127.0.0.1
protocols = imap
log_path = {self.dir}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
{"" if root else f"default_internal_group = {grp.getgrgid(os.getegid()).gr_name}"}
ssl = yes
ssl_cert = <{self.dir}/cert.pem
ssl_key = <{self.dir}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{self.maildir}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.dir}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
{special}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
        path = self.dir / "dovecot.conf"
        path.write_text(config, encoding="utf-8")
        for name in ("run", "state"):
            (self.dir / name).mkdir(exist_ok=True)
        return path

    def start(self) -> DovecotServer:
        config = self._write_config()
        with (self.dir / "stderr.log").open("wb") as errors:
            # -F: in the foreground, a child of this process that stop() ends by its pid
            self._process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=errors,
                stderr=errors,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.ssl_port), timeout=1),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        """End the server (its master process, which ends its children) and remove its files."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the tests look at --------------------------------------------------------------
    def log(self) -> str:
        return "".join(
            path.read_text(errors="replace")
            for path in (self.dir / "stderr.log", self.dir / "dovecot.log")
            if path.exists()
        )

    def _folder_dir(self, folder: str) -> Path:
        return self.maildir / f".{encode_folder_name(folder)}"

    def add_folder(self, folder: str) -> None:
        for sub in ("cur", "new", "tmp"):
            path = self._folder_dir(folder) / sub
            path.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                owner = pwd.getpwnam("nobody")
                for part in (path.parent, path):
                    os.chown(part, owner.pw_uid, owner.pw_gid)

    def stored(self, folder: str) -> list[Stored]:
        """Every message in ``folder`` (Maildir on disk; LF line ends), oldest first."""
        base = self.maildir if folder == "INBOX" else self._folder_dir(folder)
        found: list[tuple[float, Stored]] = []
        for sub in ("new", "cur"):
            directory = base / sub
            if not directory.exists():
                continue
            for path in directory.iterdir():
                flags = path.name.split(":2,", 1)[1] if ":2," in path.name else ""
                found.append((path.stat().st_mtime, Stored(folder, flags, path.read_bytes())))
        found.sort(key=lambda item: item[0])
        return [stored for _, stored in found]

    def remove_folder(self, folder: str) -> None:
        shutil.rmtree(self._folder_dir(folder))
        subs = self.maildir / "subscriptions"
        if subs.exists():
            lines = [line for line in subs.read_text().splitlines() if line != folder]
            subs.write_text("".join(f"{line}\n" for line in lines))
