"""The Celery application, configured from Django settings (``CELERY_*``).

Reliability defaults live in settings: late acks, reject on worker loss,
prefetch 1, JSON only, time limits under the broker's visibility timeout.
``productops.task_context`` (connected here, so in every process that sends or runs
tasks) carries the request id into tasks and leaves logging to settings' ``LOGGING``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "productops.settings")

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
