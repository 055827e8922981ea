"""Slow clients against gunicorn: sync workers, gthread workers, and behind nginx (and Caddy).

``python -m bench.slow_clients [--slow 0,6,50,300] [--modes headers,body] [--duration 35]``

Each set-up starts its own gunicorn (``gunicorn.conf.py``, 2 workers; gthread with 4 threads
each) on a loopback port, and for the proxied set-ups an nginx with ``deploy/nginx.conf``
(only the upstream address and the listening port changed) or a Caddy with a plain
``reverse_proxy``. Then N slow clients connect and keep connected:

- ``headers``: a request whose headers arrive one byte a second and never end (slowloris);
- ``body``: complete headers of a form POST to the sign-in page (which reads its body for the
  CSRF token) announcing 10,000 bytes, then the body one byte a second.

A slow client the server drops reconnects at once, as an attacker's would. Meanwhile a probe
GETs ``/healthz`` every 0.2 s with a 5 s deadline and records whether it got a 200 and how
long it took. The table printed at the end is what docs/operations.md quotes.

Ports 18150-18159 on 127.0.0.1; nginx and caddy come from Debian's packages (skipped if absent).
Nothing shared is touched: the app runs on a SQLite file under a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
GUNICORN_PORT = 18150
PROXY_PORT = 18151
PROBE_INTERVAL = 0.2
PROBE_DEADLINE = 5.0
SETUPS = ["sync", "gthread", "nginx+sync", "nginx+gthread", "caddy+sync"]


@dataclass
class Result:
    setup: str
    mode: str
    slow: int
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    slow_dropped: int = 0

    @property
    def probes(self) -> int:
        return len(self.latencies) + self.failures

    def row(self) -> str:
        ok = len(self.latencies)
        ms = sorted(x * 1000 for x in self.latencies)
        p50 = f"{statistics.median(ms):.0f}" if ms else "-"
        p95 = f"{ms[min(len(ms) - 1, int(len(ms) * 0.95))]:.0f}" if ms else "-"
        worst = f"{ms[-1]:.0f}" if ms else "-"
        share = 100 * ok / self.probes if self.probes else 0
        return (
            f"| {self.setup} | {self.mode} | {self.slow} | {ok}/{self.probes} ({share:.0f}%) "
            f"| {p50} | {p95} | {worst} | {self.slow_dropped} |"
        )


# --- servers ---------------------------------------------------------------------------------


def _wait_for_port(port: int, deadline: float = 20.0) -> None:
    import socket

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {HOST}:{port}")


def _wait_for_health(port: int, deadline: float = 30.0) -> None:
    """Until GET /healthz answers 200: gunicorn listens before its workers have loaded Django."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if asyncio.run(probe_once(port)) is not None:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{HOST}:{port}/healthz never answered 200")


def start_gunicorn(worker_class: str, workdir: Path) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "DEBUG": "0",
        "SECRET_KEY": "bench-slow-clients-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "VAR_DIR": str(workdir / "var"),
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",  # gthread only (gunicorn.conf.py gives sync workers 1)
        "GUNICORN_WORKER_CLASS": worker_class,
        "GUNICORN_BIND": f"{HOST}:{GUNICORN_PORT}",
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_ACCESSLOG": "",  # the probe's 5 requests a second would drown the output
    }
    (workdir / "var").mkdir(exist_ok=True)
    process = subprocess.Popen(  # noqa: S603 - our own servers, fixed arguments
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "gunicorn.conf.py",
            "productops.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "gunicorn.log", "ab"),  # noqa: SIM115 - closed with the process
        start_new_session=True,
    )
    _wait_for_port(GUNICORN_PORT)
    _wait_for_health(GUNICORN_PORT)
    return process


def render_nginx(workdir: Path, upstream_port: int = GUNICORN_PORT, listen_port: int = PROXY_PORT) -> Path:
    """deploy/nginx.conf in a main config of its own: the compose names replaced by loopback
    ports, and every path nginx writes under ``workdir`` (which must be world-readable, since
    nginx's workers run as an unprivileged user). tests/test_nginx_conf.py runs it too."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("http://web:8000", f"http://{HOST}:{upstream_port}")
    site = site.replace("listen 80;", f"listen {HOST}:{listen_port};")
    site = site.replace("/var/log/nginx/access.log", str(workdir / "nginx-access.log"))
    (workdir / "site.conf").write_text(site)
    main = f"""
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/site.conf;
}}
"""
    path = workdir / "nginx-main.conf"
    path.write_text(main)
    return path


def start_proxy(kind: str, workdir: Path) -> subprocess.Popen:
    if kind == "nginx":
        config = render_nginx(workdir)
        command = ["nginx", "-p", str(workdir), "-c", str(config)]
    else:
        caddyfile = workdir / "Caddyfile"
        caddyfile.write_text(
            f"{{\n\tadmin off\n\tauto_https off\n}}\n"
            f"http://{HOST}:{PROXY_PORT} {{\n\treverse_proxy {HOST}:{GUNICORN_PORT}\n}}\n"
        )
        command = ["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
    process = subprocess.Popen(  # noqa: S603 - our own servers, fixed arguments
        command,
        cwd=workdir,
        env={
            **os.environ,
            "HOME": str(workdir),
            "XDG_DATA_HOME": str(workdir),
            "XDG_CONFIG_HOME": str(workdir),
        },
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{kind}.log", "ab"),  # noqa: SIM115 - closed with the process
        start_new_session=True,
    )
    _wait_for_port(PROXY_PORT)
    _wait_for_health(PROXY_PORT)
    return process


def stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- clients ---------------------------------------------------------------------------------


def _slow_request(mode: str) -> tuple[bytes, bytes]:
    """(what is sent at once, what is then sent a byte a second)."""
    if mode == "headers":
        return (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: " + b"a" * 100_000)
    token = b"A" * 32
    head = (
        b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n"
        b"Cookie: csrftoken=" + token + b"\r\n\r\n"
    )
    return head, b"csrfmiddlewaretoken=" + token + b"&username=" + b"a" * 10_000


async def slow_client(port: int, mode: str, result: Result, stop_at: float) -> None:
    first, drip = _slow_request(mode)
    while time.monotonic() < stop_at:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            # Anything the server sends (a 408 or 400) or its closing ends this connection.
            answered = asyncio.create_task(reader.read(1))
            writer.write(first)
            await writer.drain()
            for byte in drip:
                if time.monotonic() >= stop_at:
                    answered.cancel()
                    return
                if answered.done():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1)
            answered.cancel()
            result.slow_dropped += 1
        except (ConnectionError, OSError):
            result.slow_dropped += 1
            await asyncio.sleep(0.2)
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()


async def probe_once(port: int) -> float | None:
    started = time.monotonic()
    writer = None
    try:
        async with asyncio.timeout(PROBE_DEADLINE):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            answer = await reader.read()
        if answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200"):
            return time.monotonic() - started
        return None
    except (TimeoutError, ConnectionError, OSError):
        return None
    finally:
        if writer is not None:
            writer.close()


async def measure(port: int, mode: str, slow: int, duration: float, result: Result) -> None:
    stop_at = time.monotonic() + duration + 3
    slow_tasks = [asyncio.create_task(slow_client(port, mode, result, stop_at)) for _ in range(slow)]
    await asyncio.sleep(3)  # every slow client connected and dripping
    probe_end = time.monotonic() + duration
    probes = []
    while time.monotonic() < probe_end:
        probes.append(asyncio.create_task(probe_once(port)))
        await asyncio.sleep(PROBE_INTERVAL)
    for latency in await asyncio.gather(*probes):
        if latency is None:
            result.failures += 1
        else:
            result.latencies.append(latency)
    for task in slow_tasks:
        task.cancel()
    await asyncio.gather(*slow_tasks, return_exceptions=True)


# --- main ------------------------------------------------------------------------------------


def run_setup(setup: str, modes: list[str], slow_counts: list[int], duration: float) -> list[Result]:
    proxy, _, worker_class = setup.rpartition("+")
    if proxy and not shutil.which(proxy):
        print(f"skipping {setup}: {proxy} is not installed", file=sys.stderr)
        return []
    results = []
    with tempfile.TemporaryDirectory(prefix="slow_clients_") as tmp:
        workdir = Path(tmp)
        # nginx's workers (an unprivileged user) write request bodies under it.
        workdir.chmod(0o755)
        server = start_gunicorn(worker_class, workdir)
        front = start_proxy(proxy, workdir) if proxy else None
        port = PROXY_PORT if proxy else GUNICORN_PORT
        try:
            for mode in modes:
                for slow in slow_counts:
                    if slow == 0 and mode != modes[0]:
                        continue  # no slow client: the same run whatever they would send
                    result = Result(setup, mode, slow)
                    asyncio.run(measure(port, mode, slow, duration, result))
                    print(result.row(), flush=True)
                    results.append(result)
                    time.sleep(1)  # let the server notice the closed slow connections
        finally:
            if front is not None:
                stop(front)
            stop(server)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--modes", default="headers,body")
    parser.add_argument(
        "--slow", default="0,6,50,300", help="numbers of slow clients, comma-separated (0: a baseline)"
    )
    parser.add_argument("--duration", type=float, default=35.0, help="seconds of probing per run")
    args = parser.parse_args(argv)
    print("2 gunicorn workers (gthread: 4 threads each); probe GET /healthz every 0.2 s, 5 s deadline")
    print("| set-up | slow clients send | N | probes answered 200 | p50 ms | p95 ms | max ms | dropped |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for setup in args.setups.split(","):
        run_setup(setup, args.modes.split(","), [int(n) for n in args.slow.split(",")], args.duration)


if __name__ == "__main__":
    main()
