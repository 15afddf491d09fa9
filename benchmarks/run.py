"""docmail against mailmerge and against the hand-written best case, on 127.0.0.1.

    .venv/bin/python benchmarks/run.py                  # N = 100, 1000, 10000 and the 100k check
    .venv/bin/python benchmarks/run.py --sizes 1000 --check-rows 0
    .venv/bin/python benchmarks/run.py --sizes 1000 --tools best,docmail --repeat 5 --check-rows 0

First the start-up of the quick commands (each run --startup times). Then for every N: the
same invoices (csv, one ~50 kB PDF each) are sent by each tool, each run against a fresh
STARTTLS+AUTH server in its own process that counts what it receives; with --repeat K the
tools take turns K times and each ratio is the median of the K ratios within a turn. The
tables go to stdout and to benchmarks/results/latest.md (and .json).
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import generate
import trustme
from measure import Usage, run_measured

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
USER = "buchhaltung@bergmann-werkstatt.example"
MAILMERGE_VENV = HERE / ".venv-mailmerge"
MAILMERGE_SPEC = "mailmerge>=2,<3"


@dataclass
class Result:
    tool: str
    n: int
    connections: int
    usage: Usage
    server: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.n / self.usage.wall

    @property
    def delivered(self) -> bool:
        return bool(
            self.usage.exit_code == 0
            and self.server.get("messages") == self.n
            and self.server.get("distinct_message_ids", self.n) in (0, self.n)
        )


@dataclass
class Setup:
    work: Path
    ca_file: Path
    cert_file: Path
    key_file: Path
    password: str
    documents: Path
    docmail_template: Path
    mailmerge_template: Path
    pyinstrument: bool = False


# --- the server process --------------------------------------------------------------------
class CountingServer:
    """benchmarks/smtp_server.py in its own process, on a free port; ``stop()`` gives its counts."""

    def __init__(self, setup: Setup) -> None:
        self.port = free_port()
        env = dict(os.environ, BENCH_SMTP_PASSWORD=setup.password)
        cmd = [sys.executable, str(HERE / "smtp_server.py"), "--port", str(self.port)]
        cmd += ["--cert", str(setup.cert_file), "--key", str(setup.key_file), "--user", USER]
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError(f"the benchmark SMTP server did not start: {line!r}")

    def stop(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.proc.stdout.close()
        lines = [line for line in out.splitlines() if line.startswith("{")]
        stats: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        stats["cpu"] = usage.ru_utime + usage.ru_stime
        return stats


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def against_fresh_server(
    setup: Setup, tool: str, n: int, connections: int, send: Callable[[int, Path], Usage]
) -> Result:
    """Start a server, let ``send(port, run_folder)`` deliver N messages, collect the counts."""
    folder = setup.work / "runs" / f"{tool.replace(' ', '-')}-{n}-{connections}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    server = CountingServer(setup)
    try:
        usage = send(server.port, folder)
    finally:
        stats = server.stop()
    result = Result(tool, n, connections, usage, stats)
    status = "ok" if result.delivered else f"NOT OK (see {folder})"
    print(
        f"  {tool:<28} N={n:<6} {usage.wall:7.2f} s  {result.per_second:7.1f} msg/s  "
        f"cpu {usage.cpu:6.2f} s  rss {usage.peak_rss_mb:6.0f} MB  "
        f"server got {stats.get('messages')}  {status}",
        flush=True,
    )
    return result


# --- the tools -----------------------------------------------------------------------------
def run_best_case(setup: Setup, orders: Path, port: int, folder: Path) -> Usage:
    cmd = [sys.executable, str(HERE / "best_case.py"), str(orders), str(setup.documents)]
    cmd += ["--port", str(port), "--ca-file", str(setup.ca_file), "--user", USER]
    env = dict(os.environ, BENCH_SMTP_PASSWORD=setup.password)
    return run_measured(cmd, env=env, log=folder / "output.log")


def docmail_env(setup: Setup, home: Path) -> dict[str, str]:
    return dict(
        os.environ,
        DOCMAIL_HOME=str(home),
        DOCMAIL_SMTP_PASSWORD=setup.password,
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )


def docmail_profile(setup: Setup, port: int, folder: Path) -> dict[str, str]:
    """A fresh DOCMAIL_HOME with the profile ``bench`` for this server (not measured)."""
    env = docmail_env(setup, folder / "home")
    cmd = [str(Path(sys.executable).with_name("docmail")), "profile", "add", "bench"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--security", "starttls"]
    cmd += ["--username", USER, "--from", USER, "--ca-file", str(setup.ca_file)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"docmail profile add failed: {done.stdout}{done.stderr}")
    return env


def run_docmail_cli(setup: Setup, orders: Path, connections: int, port: int, folder: Path) -> Usage:
    env = docmail_profile(setup, port, folder)
    cmd = [str(Path(sys.executable).with_name("docmail")), "send", str(orders)]
    if setup.pyinstrument:  # the same command under the profiler (slower; for finding costs)
        profile = ["-m", "pyinstrument", "-o", str(folder / "profile.txt"), "-m", "docmail_nb"]
        cmd = [sys.executable, *profile, "send", str(orders)]
    cmd += [str(setup.docmail_template), "--profile", "bench", "--documents", str(setup.documents)]
    cmd += ["--ledger", str(folder / "ledger.sqlite"), "--connections", str(connections), "--yes"]
    return run_measured(cmd, env=env, log=folder / "output.log")


def run_docmail_api(setup: Setup, orders: Path, connections: int, port: int, folder: Path) -> Usage:
    env = docmail_profile(setup, port, folder)
    cmd = [sys.executable, str(HERE / "docmail_api.py"), str(orders), str(setup.docmail_template)]
    cmd += ["--documents", str(setup.documents), "--ledger", str(folder / "ledger.sqlite")]
    cmd += ["--connections", str(connections)]
    return run_measured(cmd, env=env, log=folder / "output.log")


def mailmerge_command() -> Path:
    """mailmerge in its own venv (created on first use), apart from the project's packages."""
    exe = MAILMERGE_VENV / "bin" / "mailmerge"
    if not exe.exists():
        print(f"creating {MAILMERGE_VENV} with {MAILMERGE_SPEC} ...", flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(MAILMERGE_VENV)], check=True)
        pip = MAILMERGE_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", MAILMERGE_SPEC], check=True)
    return exe


def run_mailmerge(setup: Setup, orders: Path, port: int, folder: Path) -> Usage:
    # mailmerge's STARTTLS calls starttls() without a context: it does not verify the
    # certificate, so the test CA is not needed (and cannot be given) here.
    config = folder / "mailmerge_server.conf"
    config.write_text(
        "[smtp_server]\nhost = 127.0.0.1\n"
        f"port = {port}\nsecurity = STARTTLS\nusername = {USER}\nratelimit = 0\n",
        encoding="utf-8",
    )
    cmd = [str(mailmerge_command()), "--no-dry-run", "--no-limit", "--output-format", "text"]
    cmd += ["--template", str(setup.mailmerge_template), "--database", str(orders)]
    cmd += ["--config", str(config)]
    # mailmerge asks for the password with getpass; without a terminal it reads stdin
    return run_measured(cmd, log=folder / "output.log", stdin=f"{setup.password}\n".encode())


# --- start-up ------------------------------------------------------------------------------
#: what a quick command may take, wall time from process start to exit
STARTUP_TARGET = 0.25


def startup_benchmark(setup: Setup, repeat: int) -> list[dict[str, Any]]:
    """Wall time of the quick commands, each run ``repeat`` times in a fresh process."""
    folder = setup.work / "startup"
    shutil.rmtree(folder, ignore_errors=True)
    server = CountingServer(setup)  # for `docmail test`: STARTTLS, verified, AUTH
    try:
        env = docmail_profile(setup, server.port, folder)
        # as on a desktop without DOCMAIL_SMTP_PASSWORD: keyring finds its backend and is asked
        asks_keyring = {
            k: v
            for k, v in env.items()
            if k not in ("DOCMAIL_SMTP_PASSWORD", "PYTHON_KEYRING_BACKEND")
        }
        docmail = str(Path(sys.executable).with_name("docmail"))
        cases: list[tuple[str, list[str], dict[str, str], bool]] = [
            ("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"], env, False),
            ("docmail --help", [docmail, "--help"], env, True),
            ("docmail profile list", [docmail, "profile", "list"], env, True),
            (
                "docmail profile list (password looked up in keyring)",
                [docmail, "profile", "list"],
                asks_keyring,
                False,
            ),
            ("docmail test (STARTTLS, AUTH)", [docmail, "test", "--profile", "bench"], env, True),
        ]
        results: list[dict[str, Any]] = []
        for what, cmd, case_env, target in cases:
            walls = []
            for i in range(repeat):
                usage = run_measured(cmd, env=case_env, log=folder / f"{len(results)}-{i}.log")
                if usage.exit_code != 0:
                    raise RuntimeError(f"{what} failed; see {folder}")
                walls.append(usage.wall)
            row = {"what": what, "runs": repeat, "median": statistics.median(walls)}
            row |= {"min": min(walls), "max": max(walls), "target": target}
            results.append(row)
            print(f"  {what:<55} median {row['median']:.3f} s  min {row['min']:.3f} s", flush=True)
    finally:
        server.stop()
    return results


def startup_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"| command | runs | median s | min s | max s | target < {STARTUP_TARGET} s |",
        "| --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    for row in rows:
        mark = ("✓" if row["median"] < STARTUP_TARGET else "✗") if row["target"] else "–"
        lines.append(
            f"| {row['what']} | {row['runs']} | {row['median']:.3f} | {row['min']:.3f} "
            f"| {row['max']:.3f} | {mark} |"
        )
    return "\n".join(lines)


# --- the 100,000-row check -----------------------------------------------------------------
def check_benchmark(setup: Setup, rows: int, cli: bool) -> list[dict[str, Any]]:
    """Read, check and preview an xlsx of ``rows`` invoices (openpyxl: read only)."""
    folder = setup.work / f"check-{rows}"
    print(f"generating {rows} rows as xlsx (once) ...", flush=True)
    xlsx = generate.write_xlsx(folder / f"orders-{rows}.xlsx", rows)
    documents = generate.link_documents(folder / "documents", rows)
    env = dict(os.environ, DOCMAIL_HOME=str(folder / "home"))
    results: list[dict[str, Any]] = []
    for engine in ("calamine", "openpyxl"):
        cmd = [sys.executable, str(HERE / "check_phases.py"), str(xlsx)]
        cmd += [str(setup.docmail_template), "--documents", str(documents), "--engine", engine]
        what = "read_orders + make_plan + preview"
        if engine == "openpyxl":  # the check itself does not depend on how the sheet was read
            cmd.append("--read-only")
            what = "read_orders"
        usage = run_measured(cmd, env=env, log=folder / f"phases-{engine}.log")
        phases = last_json(folder / f"phases-{engine}.log")
        results.append({"what": f"{what} ({engine})", **asdict(usage), **phases})
        print(f"  phases {engine}: {phases}  rss {usage.peak_rss_mb:.0f} MB", flush=True)
    docmail = str(Path(sys.executable).with_name("docmail"))
    commands = [("docmail check", [docmail, "check", str(xlsx), str(setup.docmail_template)])]
    for name, cmd in commands if cli else []:
        cmd += ["--documents", str(documents)]
        usage = run_measured(cmd, env=env, log=folder / f"{name.split()[1]}.log")
        results.append({"what": name, **asdict(usage), "rows": rows})
        print(f"  {name}: {usage.wall:.1f} s  rss {usage.peak_rss_mb:.0f} MB", flush=True)
    return results


def last_json(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text(encoding="utf-8", errors="replace").splitlines()):
        if line.startswith("{"):
            data: dict[str, Any] = json.loads(line)
            return data
    return {}


# --- report --------------------------------------------------------------------------------
def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({model}), {system}, Python {platform.python_version()}"


def send_table(results: list[Result]) -> str:
    lines = [
        "| tool | N | conn. | wall s | msg/s | client CPU ms/msg | peak RSS MB "
        "| server CPU ms/msg | received | TLS conns |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        got = r.server.get("messages", "?")
        mark = "" if r.delivered else " ✗"
        lines.append(
            f"| {r.tool} | {r.n:,} | {r.connections} | {r.usage.wall:.2f} | {r.per_second:.1f} "
            f"| {1000 * r.usage.cpu / r.n:.2f} | {r.usage.peak_rss_mb:.0f} "
            f"| {1000 * r.server.get('cpu', 0.0) / r.n:.2f} | {got}{mark} "
            f"| {r.server.get('tls_connections', '?')} |"
        )
    return "\n".join(lines)


def pair_ratios(results: list[Result], tool: str, anchor: str, n: int) -> list[float]:
    """``tool`` / ``anchor`` in messages/s for each repeat, the two runs taken in turn."""
    mine = [r.per_second for r in results if r.tool == tool and r.n == n]
    theirs = [r.per_second for r in results if r.tool == anchor and r.n == n]
    return [a / b for a, b in zip(mine, theirs, strict=False)]


def ratio_table(results: list[Result]) -> str:
    """Each ratio is the median over the repeats of the ratio within one repeat."""
    lines = [
        "| N | docmail 1 conn / mailmerge (target ≥ 10×) | docmail 3 conn / mailmerge "
        "| docmail 1 conn / best case (target ≥ 0.90) | docmail 3 conn / best case "
        "| best case / mailmerge |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in sorted({r.n for r in results}):

        def ratio(tool: str, anchor: str, target: float | None, n: int = n) -> str:
            found = pair_ratios(results, tool, anchor, n)
            if not found:
                return "–"
            value = statistics.median(found)
            mark = "" if target is None else (" ✓" if value >= target else " ✗")
            return f"{value:.2f}{mark}"

        lines.append(
            f"| {n:,} | {ratio('docmail CLI', 'mailmerge', 10)} "
            f"| {ratio('docmail CLI 3 conn', 'mailmerge', None)} "
            f"| {ratio('docmail CLI', 'best case', 0.9)} "
            f"| {ratio('docmail CLI 3 conn', 'best case', None)} "
            f"| {ratio('best case', 'mailmerge', None)} |"
        )
    pairs = [
        f"N = {n:,}: " + ", ".join(f"{x:.2f}" for x in found)
        for n in sorted({r.n for r in results})
        if len(found := pair_ratios(results, "docmail CLI", "best case", n)) > 1
    ]
    if pairs:
        lines += ["", "docmail 1 conn / best case, run by run: " + "; ".join(pairs) + "."]
    return "\n".join(lines)


def check_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| what | rows | wall s | read s | check s | preview s | rows/s (check) | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        n = row.get("rows", 0)
        read = row.get("read")
        check = row.get("check")
        pre = row.get("preview")
        speed = n / check if check else n / row["wall"]

        def fmt(value: float | None) -> str:
            return "–" if value is None else f"{value:.2f}"

        lines.append(
            f"| {row['what']} | {n:,} | {row['wall']:.2f} | {fmt(read)} | {fmt(check)} "
            f"| {fmt(pre)} | {speed:,.0f} | {row['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------
def new_setup(work: Path, documents: Path, docmail_template: Path, mailmerge: Path) -> Setup:
    """A Setup in ``work``: a fresh test CA (tls/ca.pem), the server's certificate for 127.0.0.1
    (tls/server.pem, .key) and password, with these documents and templates."""
    tls = work / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(tls / "ca.pem"))
    cert.private_key_pem.write_to_path(str(tls / "server.key"))
    with (tls / "server.pem").open("wb") as handle:
        for blob in cert.cert_chain_pems:
            handle.write(blob.bytes())
    return Setup(
        work=work,
        ca_file=tls / "ca.pem",
        cert_file=tls / "server.pem",
        key_file=tls / "server.key",
        password=secrets.token_urlsafe(16),
        documents=documents,
        docmail_template=docmail_template,
        mailmerge_template=mailmerge,
    )


def prepare(work: Path, largest: int) -> Setup:
    print(f"preparing {largest} invoices with PDFs in {work} (reused when present) ...", flush=True)
    # as installed from a wheel, docmail's bytecode exists: without it (an editable install
    # under PYTHONDONTWRITEBYTECODE) every start would compile the package again
    compileall.compile_dir(ROOT / "docmail_nb", quiet=1)
    documents = generate.write_documents(work / "documents", largest)
    docmail_template, mailmerge_template = generate.write_templates(work / "templates", documents)
    return new_setup(work, documents, docmail_template, mailmerge_template)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100,1000,10000", help="batch sizes N (default %(default)s)"
    )
    parser.add_argument(
        "--small-max",
        type=int,
        default=1000,
        help="largest N for mailmerge and the API runner (%(default)s)",
    )
    parser.add_argument(
        "--check-cli", action="store_true", help="also time `docmail check` on the big sheet"
    )
    parser.add_argument("--check-rows", type=int, default=100_000, help="0 skips the xlsx check")
    parser.add_argument(
        "--tools",
        default="best,mailmerge,docmail,docmail3,api",
        help="which senders to run (default %(default)s)",
    )
    parser.add_argument(
        "--pyinstrument",
        action="store_true",
        help="profile the docmail CLI runs (profile.txt in each run folder; not for timings)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each sender per N, in turn (%(default)s)"
    )
    parser.add_argument(
        "--startup", type=int, default=10, help="runs of each quick command; 0 skips (%(default)s)"
    )
    parser.add_argument("--work", type=Path, default=RESULTS / "work")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tools = {t.strip() for t in args.tools.split(",")}
    started = dt.datetime.now().astimezone()

    setup = prepare(args.work, max(sizes, default=1))
    setup.pyinstrument = args.pyinstrument
    startup: list[dict[str, Any]] = []
    if args.startup:
        print("start-up of the quick commands", flush=True)
        startup = startup_benchmark(setup, args.startup)
    results: list[Result] = []
    for n in sizes:
        orders = generate.write_csv(args.work / f"orders-{n}.csv", n)
        print(f"N = {n}", flush=True)
        runs: list[tuple[str, int, Callable[[int, Path], Usage]]] = []
        if "best" in tools:
            runs.append(("best case", 1, partial(run_best_case, setup, orders)))
        if "mailmerge" in tools and n <= args.small_max:
            runs.append(("mailmerge", 1, partial(run_mailmerge, setup, orders)))
        if "docmail" in tools:
            runs.append(("docmail CLI", 1, partial(run_docmail_cli, setup, orders, 1)))
        if "docmail3" in tools:
            runs.append(("docmail CLI 3 conn", 3, partial(run_docmail_cli, setup, orders, 3)))
        if "api" in tools and n <= args.small_max:
            runs.append(("docmail API", 1, partial(run_docmail_api, setup, orders, 1)))
        for _ in range(args.repeat):  # the tools take turns: a busy moment hits them alike
            for tool, connections, send in runs:
                results.append(against_fresh_server(setup, tool, n, connections, send))

    checks = check_benchmark(setup, args.check_rows, args.check_cli) if args.check_rows else []

    report = [
        f"Run {started:%Y-%m-%d %H:%M %Z} on {machine()}.",
        f"Command: `{' '.join(['.venv/bin/python benchmarks/run.py', *sys.argv[1:]])}`",
    ]
    if startup:
        report += ["", startup_table(startup)]
    if results:
        report += ["", send_table(results), "", ratio_table(results)]
    if checks:
        report += ["", check_table(checks)]
    text = "\n".join(report) + "\n"
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    data = {
        "started": started.isoformat(),
        "machine": machine(),
        "argv": sys.argv[1:],
        "sends": [
            {
                "tool": r.tool,
                "n": r.n,
                "connections": r.connections,
                **asdict(r.usage),
                "messages_per_second": r.per_second,
                "server": r.server,
                "delivered": r.delivered,
            }
            for r in results
        ],
        "checks": checks,
        "startup": startup,
    }
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return 0 if all(r.delivered for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
