"""The Celery application, configured from Django settings (``CELERY_*``).

Reliability defaults live in settings: late acks, reject on worker loss,
prefetch 1, JSON only, time limits under the broker's visibility timeout.
``productops.task_context`` (connected here, so in every process that sends or runs
tasks) carries the request id into tasks and leaves logging to settings' ``LOGGING``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "productops.settings")
# One OpenBLAS thread per process: a worker process is one core's work (the prefork pool
# runs one per core), and OpenBLAS's own threads spin while they wait. Checking an
# import's duplicates, they doubled the CPU an item cost (1.68 ms → 0.80 ms in the process,
# docs/feedback-intelligence.md, "Speed"), CPU the other worker needed. Set before numpy is
# imported (productops/__init__.py loads this module first); an operator's value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import productops.task_context  # noqa: F401  (connects its signal receivers)

app = Celery("productops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _ensure_broker_folders(sender: Celery, **kwargs: object) -> None:
    # The filesystem transport expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
    backend = sender.conf.result_backend or ""
    if backend.startswith("file://"):
        os.makedirs(backend.removeprefix("file://"), exist_ok=True)
