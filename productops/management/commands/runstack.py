"""Run the web server, a Celery worker and beat together in the foreground.

This is what ``make run`` starts. One Ctrl-C stops all three; if one of them
exits, the others are stopped too, so a broken stack never half-runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from productops.demo import DEMO_PASSWORD, DEMO_USERNAME


class Command(BaseCommand):
    help = "Run web + Celery worker + beat in the foreground (Ctrl-C stops all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: object, host: str, port: int, concurrency: int, **options: object) -> None:
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            "worker": [
                python, "-m", "celery", "-A", "productops", "worker",
                "--loglevel", "INFO", "--concurrency", str(concurrency),
            ],
            "beat": [python, "-m", "celery", "-A", "productops", "beat", "--loglevel", "INFO"],
        }  # fmt: skip
        broker = "Redis" if settings.REDIS_URL else "the embedded filesystem broker (var/broker)"
        self.stdout.write(
            self.style.SUCCESS(f"\n  productops on http://{host}:{port}/\n")
            + f"  demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}\n"
            + f"  API docs:   http://{host}:{port}/api/docs/\n"
            + f"  broker:     {broker}\n  Ctrl-C stops web, worker and beat.\n"
        )
        stopping = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
        exit_code = 0
        try:
            while not stopping:
                exited = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
                if exited:
                    # A Ctrl-C reaches the children too; give our own handler a
                    # moment so a deliberate stop is not reported as a crash.
                    time.sleep(0.5)
                    if not stopping:
                        name, code = exited[0]
                        self.stderr.write(f"{name} exited with {code}; stopping the rest.")
                        exit_code = code or 1
                    break
                time.sleep(0.3)
        finally:
            self._stop(processes)
        if exit_code:
            sys.exit(exit_code)

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
