"""A small OAuth 2.0 identity server on 127.0.0.1 over HTTPS, for msal and google-auth.

It speaks what the libraries speak to Microsoft's and Google's sign-in servers, so they talk to it
unmodified (msal through an ``authority`` URL, google-auth through the client file's token URI):

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (400 + AADSTS90002 for an unknown tenant)
- ``POST /{tenant}/oauth2/v2.0/devicecode``: a device code; the token endpoint answers
  ``authorization_pending`` until the user "entered the code" (:meth:`approve`, or by itself
  after ``pending_polls`` polls)
- ``POST /{tenant}/oauth2/v2.0/token``: client credentials (secret or certificate assertion),
  device code, refresh token
- ``GET /google/auth``: Google's consent page, answered at once with a redirect to the loopback
  ``redirect_uri``; ``POST /google/token``: authorization code (PKCE checked), refresh token

Errors on demand: ``fail_next[grant] = {...}`` answers the next request of that grant type with
that error JSON (``invalid_grant``, AADSTS codes, ...); :meth:`revoke` invalidates every refresh
token; :meth:`expire_access_tokens` makes every issued access token expired. The SMTP test
server asks :meth:`check` whether an access token is good for a user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
import trustme
from cryptography import x509


@dataclass
class Issued:
    user: str  # the mailbox the token is for ("" = app-only: any mailbox the app may use)
    client_id: str
    scope: str
    expires_at: float


@dataclass
class Client:
    client_id: str
    secret: str = ""
    certificate_pem: bytes = b""
    public: bool = True
    mailboxes: tuple[str, ...] = ()  # app-only: mailboxes the app may send as


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}."


@dataclass
class IdentityState:
    tenants: set[str] = field(default_factory=lambda: {"contoso", "organizations"})
    clients: dict[str, Client] = field(default_factory=dict)
    user: str = "anna@example.ch"  # who signs in at the device-code page / Google consent
    access_lifetime: int = 3600
    pending_polls: int = 1  # device-code polls answered authorization_pending first
    approved: set[str] = field(default_factory=set)
    device_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # rt -> user, client
    access_tokens: dict[str, Issued] = field(default_factory=dict)
    fail_next: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, grant_type)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing --------------------------------------------------------------------------
    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, error: str, description: str, codes: tuple[int, ...] = ()
    ) -> None:
        body: dict[str, Any] = {"error": error, "error_description": description}
        if codes:
            body["error_codes"] = list(codes)
        self._send(status, body)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        return {key: values[0] for key, values in parse_qs(raw).items()}

    @property
    def state(self) -> IdentityState:
        return self.server.state

    @property
    def base(self) -> str:
        return self.server.base_url

    # -- routes ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        with self.state.lock:
            self.state.requests.append((url.path, "GET"))
        if url.path.endswith("/v2.0/.well-known/openid-configuration"):
            tenant = parts[0]
            if tenant not in self.state.tenants:
                self._error(
                    400,
                    "invalid_tenant",
                    f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have "
                    "the correct tenant ID.",
                    (90002,),
                )
                return
            root = f"{self.base}/{tenant}"
            self._send(
                200,
                {
                    "issuer": f"{root}/v2.0",
                    "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{root}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                },
            )
            return
        if url.path == "/google/auth":
            self._google_consent(parse_qs(url.query))
            return
        if url.path == "/devicelogin":
            code = parse_qs(url.query).get("code", [""])[0]
            self.server.approve(code)
            self._send(200, {"approved": code})
            return
        self._error(404, "not_found", url.path)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        form = self._form()
        grant = form.get("grant_type", "devicecode" if url.path.endswith("devicecode") else "")
        with self.state.lock:
            self.state.requests.append((url.path, grant))
            failure = self.state.fail_next.pop(grant, None)
        if failure is not None:
            self._send(400, failure)
            return
        if url.path.endswith("/oauth2/v2.0/devicecode"):
            self._device_code(url.path.strip("/").split("/")[0], form)
        elif url.path.endswith("/oauth2/v2.0/token"):
            self._ms_token(url.path.strip("/").split("/")[0], form)
        elif url.path == "/google/token":
            self._google_token(form)
        else:
            self._error(404, "not_found", url.path)

    # -- Microsoft ---------------------------------------------------------------------------
    def _client(self, tenant: str, form: dict[str, str]) -> Client | None:
        client = self.state.clients.get(form.get("client_id", ""))
        if client is None:
            self._error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not "
                f"found in the directory '{tenant}'.",
                (700016,),
            )
        return client

    def _device_code(self, tenant: str, form: dict[str, str]) -> None:
        if self._client(tenant, form) is None:
            return
        device_code = secrets.token_urlsafe(16)
        user_code = secrets.token_hex(4).upper()
        with self.state.lock:
            self.state.device_codes[device_code] = {
                "user_code": user_code,
                "client_id": form["client_id"],
                "scope": form.get("scope", ""),
                "polls": 0,
            }
        self._send(
            200,
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": f"{self.base}/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": f"To sign in, open {self.base}/devicelogin and enter {user_code}.",
            },
        )

    def _ms_token(self, tenant: str, form: dict[str, str]) -> None:
        client = self._client(tenant, form)
        if client is None:
            return
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if not self._client_authenticated(client, form):
                self._error(
                    401,
                    "invalid_client",
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being "
                    "sent in the request is the client secret value.",
                    (7000215,),
                )
                return
            self._send(
                200, self.server.issue("", client.client_id, form.get("scope", ""), refresh=False)
            )
            return
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with self.state.lock:
                entry = self.state.device_codes.get(form.get("device_code", ""))
                if entry is not None:
                    entry["polls"] += 1
                    ready = (
                        entry["user_code"] in self.state.approved
                        or 0 <= self.state.pending_polls < entry["polls"]
                    )
            if entry is None:
                self._error(400, "invalid_grant", "AADSTS70000: unknown device code", (70000,))
                return
            if not ready:
                self._error(
                    400,
                    "authorization_pending",
                    "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.",
                    (70016,),
                )
                return
            with self.state.lock:
                del self.state.device_codes[form["device_code"]]
            self._send(
                200,
                self.server.issue(self.state.user, client.client_id, entry["scope"], tenant=tenant),
            )
            return
        if grant == "refresh_token":
            with self.state.lock:
                owner = self.state.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if owner is None:
                self._error(
                    400,
                    "invalid_grant",
                    "AADSTS700082: The refresh token has expired due to inactivity.",
                    (700082,),
                )
                return
            self._send(
                200, self.server.issue(owner[0], owner[1], form.get("scope", ""), tenant=tenant)
            )
            return
        self._error(400, "unsupported_grant_type", f"grant {grant!r}")

    def _client_authenticated(self, client: Client, form: dict[str, str]) -> bool:
        if form.get("client_secret"):
            return bool(client.secret) and secrets.compare_digest(
                form["client_secret"], client.secret
            )
        assertion = form.get("client_assertion")
        if assertion and client.certificate_pem:
            public_key = x509.load_pem_x509_certificate(client.certificate_pem).public_key()
            try:
                claims = jwt.decode(
                    assertion,
                    public_key,  # type: ignore[arg-type]
                    algorithms=["RS256", "PS256"],
                    options={"verify_aud": False},
                )
            except jwt.PyJWTError:
                return False
            return bool(
                claims.get("iss") == client.client_id and claims.get("sub") == client.client_id
            )
        return False

    # -- Google ---------------------------------------------------------------------------------
    def _google_consent(self, query: dict[str, list[str]]) -> None:
        values = {key: items[0] for key, items in query.items()}
        client = self.state.clients.get(values.get("client_id", ""))
        redirect = values.get("redirect_uri", "")
        if client is None or not redirect.startswith("http://localhost:"):
            self._error(400, "invalid_request", "unknown client or redirect")
            return
        code = secrets.token_urlsafe(12)
        with self.state.lock:
            self.state.auth_codes[code] = {
                "client_id": client.client_id,
                "redirect_uri": redirect,
                "challenge": values.get("code_challenge", ""),
                "scope": values.get("scope", ""),
                "offline": values.get("access_type") == "offline",
            }
        answer = {"state": values.get("state", ""), "code": code, "scope": values.get("scope", "")}
        target = f"{redirect}?{urlencode(answer)}"
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _google_token(self, form: dict[str, str]) -> None:
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):  # requests-oauthlib sends the client in HTTP Basic auth
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", unquote_plus(user))
            form.setdefault("client_secret", unquote_plus(password))
        client = self.state.clients.get(form.get("client_id", ""))
        if client is None or not secrets.compare_digest(
            form.get("client_secret", ""), client.secret
        ):
            self._error(401, "invalid_client", "The OAuth client was not found.")
            return
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.state.lock:
                entry = self.state.auth_codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            expected = _b64url(hashlib.sha256(verifier.encode()).digest())
            if entry is None or (entry["challenge"] and entry["challenge"] != expected):
                self._error(400, "invalid_grant", "Malformed auth code.")
                return
            body = self.server.issue(
                self.state.user,
                client.client_id,
                entry["scope"],
                refresh=entry["offline"],
                google=True,
            )
            self._send(200, body)
            return
        if grant == "refresh_token":
            with self.state.lock:
                owner = self.state.refresh_tokens.get(form.get("refresh_token", ""))
            if owner is None:
                self._error(400, "invalid_grant", "Token has been expired or revoked.")
                return
            body = self.server.issue(
                owner[0], owner[1], "https://mail.google.com/", refresh=False, google=True
            )
            self._send(200, body)
            return
        self._error(400, "unsupported_grant_type", f"grant {grant!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: IdentityState
    base_url: str

    def issue(
        self,
        user: str,
        client_id: str,
        scope: str,
        *,
        refresh: bool = True,
        tenant: str = "contoso",
        google: bool = False,
    ) -> dict[str, Any]:
        token = "at-" + secrets.token_urlsafe(24)
        now = time.time()
        lifetime = self.state.access_lifetime
        scopes = " ".join(
            s for s in scope.split() if s not in ("openid", "profile", "offline_access")
        )
        with self.state.lock:
            self.state.access_tokens[token] = Issued(user, client_id, scopes, now + lifetime)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": token,
            "expires_in": lifetime,
            "scope": scopes,
        }
        if refresh:
            refresh_token = "rt-" + secrets.token_urlsafe(24)
            with self.state.lock:
                self.state.refresh_tokens[refresh_token] = (user, client_id)
            body["refresh_token"] = refresh_token
        if user and not google:
            uid, utid = hashlib.sha1(user.encode()).hexdigest()[:16], tenant
            body["client_info"] = _b64url(json.dumps({"uid": uid, "utid": utid}).encode())
            body["id_token"] = _unsigned_jwt(
                {
                    "iss": f"{self.base_url}/{tenant}/v2.0",
                    "aud": client_id,
                    "sub": uid,
                    "oid": uid,
                    "tid": utid,
                    "preferred_username": user,
                    "name": user,
                    "iat": int(now),
                    "exp": int(now) + lifetime,
                }
            )
        return body

    def approve(self, user_code: str) -> None:
        with self.state.lock:
            self.state.approved.add(user_code)


class IdentityServer:
    """The identity server on 127.0.0.1 (free port), HTTPS with a certificate from ``ca``."""

    def __init__(self, ca: trustme.CA) -> None:
        self.state = IdentityState()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self.port = self._httpd.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._httpd.state = self.state
        self._httpd.base_url = self.base_url
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def authority(self, tenant: str = "contoso") -> str:
        return f"{self.base_url}/{tenant}"

    def add_client(self, client_id: str, **settings: Any) -> Client:
        client = Client(client_id, **settings)
        self.state.clients[client_id] = client
        return client

    def google_client_file(self, path: Any, client_id: str, secret: str) -> Any:
        """Write a Google 'Desktop app' OAuth client file pointing at this server."""
        self.add_client(client_id, secret=secret)
        path.write_text(
            json.dumps(
                {
                    "installed": {
                        "client_id": client_id,
                        "client_secret": secret,
                        "auth_uri": f"{self.base_url}/google/auth",
                        "token_uri": f"{self.base_url}/google/token",
                        "redirect_uris": ["http://localhost"],
                    }
                }
            ),
            encoding="utf-8",
        )
        return path

    # -- what the SMTP server and the tests use ---------------------------------------------
    def check(self, token: str, user: str) -> bool:
        """Whether ``token`` was issued here, has not expired and may send as ``user``."""
        with self.state.lock:
            issued = self.state.access_tokens.get(token)
        if issued is None or issued.expires_at <= time.time():
            return False
        if issued.user:
            return issued.user == user
        client = self.state.clients.get(issued.client_id)
        return client is not None and user in client.mailboxes

    def revoke(self) -> None:
        with self.state.lock:
            self.state.refresh_tokens.clear()

    def expire_access_tokens(self) -> None:
        with self.state.lock:
            for issued in self.state.access_tokens.values():
                issued.expires_at = 0.0

    def grants(self, grant: str) -> int:
        with self.state.lock:
            return sum(1 for _path, kind in self.state.requests if kind == grant)

    def start(self) -> IdentityServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> IdentityServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
