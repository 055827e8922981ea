"""Django's error reports in the test run's log file, so the secrets check reads them too.

With pytest's ``--log-file`` (``make test PYTEST_ARGS="--log-file=var/test.log
--log-file-level=DEBUG"``), every log record of the run lands in that file, exception text
included, but not what an error reporter adds: the POST data, cookies, request headers and
every frame's local variables. Production has no reporter configured (``LOGGING`` sends
``django`` to the console only), yet ``ADMINS`` with ``AdminEmailHandler``, or any
exception tracker, would send exactly those. So for each ERROR record (a 500's
``django.request`` line, with its request; an API bug's ``productops.api`` line, with its
traceback) this plugin renders the report ``AdminEmailHandler(include_html=True)`` would
mail, text and HTML, and writes it into the log file. ``scripts/check_logs_for_secrets.py``
then finds any canary (tests/canaries.py) that a view failed to mark sensitive.

Without ``--log-file`` the plugin does nothing; the ``error_reports`` fixture collects the
same reports in memory for one test.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator

import pytest
from django.utils.log import AdminEmailHandler

#: Each report written to the log file starts with this line (the secrets check counts them).
REPORT_MARKER = "ERROR REPORT (as AdminEmailHandler would mail it)"


class ErrorReportHandler(AdminEmailHandler):
    """Django's admin e-mail report, handed to ``sink(record, report)`` instead of mailed."""

    def __init__(self, sink: Callable[[logging.LogRecord, str], None]) -> None:
        super().__init__(include_html=True)
        self.setLevel(logging.ERROR)
        self.sink = sink
        self._record: logging.LogRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle holds the handler's lock around emit, so one record at a time.
        self._record = record
        try:
            super().emit(record)
        except Exception:
            # A report that cannot be rendered must not fail the code that logged.
            self.handleError(record)
        finally:
            self._record = None

    def send_mail(self, subject: str, message: str, *args: object, **kwargs: object) -> None:
        html = kwargs.get("html_message") or ""
        self.sink(self._record, f"{REPORT_MARKER}\nSubject: {subject}\n{message}\n{html}")


def _file_handler(config: pytest.Config) -> logging.Handler | None:
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    if plugin is None or not (config.getini("log_file") or config.getoption("log_file")):
        return None
    return plugin.log_file_handler


@pytest.fixture(scope="session")
def _log_file_reporter(request: pytest.FixtureRequest) -> Iterator[ErrorReportHandler | None]:
    file_handler = _file_handler(request.config)
    if file_handler is None:
        yield None
        return

    def write(record: logging.LogRecord, report: str) -> None:
        # Straight into the file handler: through the logging tree, the report would also
        # reach caplog and change what tests assert about their records.
        line = copy.copy(record)
        line.name, line.msg, line.args = "tests.error_reports", report, ()
        line.exc_info = line.exc_text = None
        file_handler.handle(line)

    # Any logging.config.dictConfig (Django's setup, a real Celery worker started by a test)
    # closes every existing handler, pytest's log file included; a FileHandler opened with
    # mode "w" then drops every later record. In append mode it reopens the file at the next
    # record instead, so the file holds the whole run.
    file_handler.mode = "a"
    handler = ErrorReportHandler(write)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture(autouse=True)
def _error_reports_into_log_file(_log_file_reporter: ErrorReportHandler | None) -> None:
    # Checked before every test: a test that reconfigures logging (dictConfig) drops the
    # root logger's handlers.
    root = logging.getLogger()
    if _log_file_reporter is not None and _log_file_reporter not in root.handlers:
        root.addHandler(_log_file_reporter)


@pytest.fixture
def error_reports() -> Iterator[list[str]]:
    """The error reports of this test's ERROR records, as ``AdminEmailHandler`` renders them."""
    reports: list[str] = []
    handler = ErrorReportHandler(lambda record, report: reports.append(report))
    logging.getLogger().addHandler(handler)
    yield reports
    logging.getLogger().removeHandler(handler)
