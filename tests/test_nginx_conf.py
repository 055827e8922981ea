"""deploy/nginx.conf, run by Debian's nginx in front of a header-echoing upstream.

The same file docker-compose mounts (only the upstream address and the port are replaced, as
bench/slow_clients.py does). Skipped where nginx is not installed (`apt-get install nginx`).
"""

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.slow_clients import render_nginx
from productops.request_id import _ACCEPTED

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
SECRET = "SECRET0123"


class Echo(BaseHTTPRequestHandler):
    """Answers every request with the headers it received and the length of its body."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = 0
        while received < length:
            received += len(self.rfile.read(min(65536, length - received)))
        body = json.dumps({"headers": dict(self.headers.items()), "body_bytes": received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _nginx(upstream_port: int):
    """nginx with deploy/nginx.conf in front of 127.0.0.1:upstream_port; yields (base URL, workdir)."""
    workdir = Path(tempfile.mkdtemp(prefix="nginx_conf_"))
    workdir.chmod(0o755)  # nginx's workers write request bodies under it
    port = _free_port()
    config = render_nginx(workdir, upstream_port, port)
    nginx = subprocess.Popen(["nginx", "-p", str(workdir), "-c", str(config)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(nginx.stderr.read().decode()) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", workdir
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    with _nginx(upstream.server_address[1]) as (base, workdir):
        yield {"base": base, "workdir": workdir}
    upstream.shutdown()
    upstream.server_close()


def _request(url: str, data: bytes | None = None, **headers: str):
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_configuration_is_valid(stack):
    result = subprocess.run(
        ["nginx", "-t", "-p", str(stack["workdir"]), "-c", str(stack["workdir"] / "nginx-main.conf")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_a_sane_client_request_id_is_passed_on_and_a_bad_one_replaced(stack):
    _, _, kept = _request(f"{stack['base']}/healthz", **{"X-Request-ID": "abc-123.x_y"})
    _, _, replaced = _request(f"{stack['base']}/healthz", **{"X-Request-ID": "bad id; drop table"})

    assert json.loads(kept)["headers"]["X-Request-ID"] == "abc-123.x_y"
    fresh = json.loads(replaced)["headers"]["X-Request-ID"]
    assert len(fresh) == 32
    assert _ACCEPTED.match(fresh)


def test_forwarded_headers_are_set_by_nginx_not_the_client(stack):
    _, _, body = _request(
        f"{stack['base']}/w/demo/",
        **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    headers = json.loads(body)["headers"]

    assert headers["X-Forwarded-Proto"] == "http"
    # NUM_PROXIES=1: the last entry, the one nginx appended, is the client's address.
    assert headers["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert headers["Host"] == stack["base"].removeprefix("http://")


def test_bodies_the_app_takes_pass_and_larger_ones_are_refused(stack):
    six_mib = b"x" * (6 * 1024 * 1024)
    csv = b"x" * (10 * 1024 * 1024 + 64 * 1024)

    status, _, body = _request(f"{stack['base']}/api/v1/workspaces/demo/features/", six_mib[:-1])
    assert status == 200
    assert json.loads(body)["body_bytes"] == len(six_mib) - 1
    status, headers, body = _request(f"{stack['base']}/api/v1/workspaces/demo/features/", six_mib + b"x")
    assert status == 413
    assert json.loads(body)["code"] == "request_too_large"
    assert json.loads(body)["request_id"] == headers["X-Request-ID"]
    assert _request(f"{stack['base']}/api/v1/workspaces/demo/feedback/import-csv/", csv)[0] == 200
    assert _request(f"{stack['base']}/w/demo/feedback/import/", csv)[0] == 200
    assert _request(f"{stack['base']}/w/demo/feedback/import/", b"x" * (11 * 1024 * 1024 + 1))[0] == 413


def test_the_access_log_is_json_with_the_request_id_and_no_secret(stack):
    for path in (
        f"/p/demo/verify/{SECRET}/",
        f"/accounts/reset/MQ/{SECRET}/",
        f"/invitations/accept/?token={SECRET}",
    ):
        _request(f"{stack['base']}{path}", **{"X-Request-ID": "log-test-1"})
    time.sleep(0.2)
    lines = [json.loads(line) for line in (stack["workdir"] / "nginx-access.log").read_text().splitlines()]
    mine = [line for line in lines if line["request_id"] == "log-test-1"]

    assert [line["path"] for line in mine] == [
        "/p/demo/verify/REDACTED/",
        "/accounts/reset/REDACTED/REDACTED/",
        "/invitations/accept/",
    ]
    assert SECRET not in (stack["workdir"] / "nginx-access.log").read_text()


def test_with_gunicorn_down_the_api_gets_json_and_pages_html_503s():
    with _nginx(_free_port()) as (base, _):  # nothing listens there
        api_status, api_headers, api_body = _request(f"{base}/api/v1/workspaces/demo/features/")
        page_status, page_headers, page_body = _request(f"{base}/w/demo/")

    assert api_status == 503
    assert api_headers["Retry-After"] == "5"
    error = json.loads(api_body)
    assert error["type"] == "server_error"
    assert error["code"] == "service_unavailable"
    assert error["request_id"] == api_headers["X-Request-ID"]
    assert page_status == 503
    assert page_headers["Content-Type"] == "text/html"
    assert page_headers["X-Request-ID"].encode() in page_body
