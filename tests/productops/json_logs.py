"""Log lines as production writes them: settings.LOGGING's own JSON formatter and context filter."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings


def configured(kind: str, name: str):
    """A formatter or filter built from settings.LOGGING's own entry, as dictConfig builds it."""
    configurator = logging.config.DictConfigurator(copy.deepcopy(settings.LOGGING))
    entry = copy.deepcopy(settings.LOGGING[kind][name])
    if kind == "formatters":
        return configurator.configure_formatter(entry)
    return configurator.configure_filter(entry)


def production_handler(stream: io.StringIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configured("formatters", "json"))
    handler.addFilter(configured("filters", "context"))
    return handler


@contextmanager
def json_lines_of(*names: str) -> Iterator[Callable[[], list[dict]]]:
    """Every line the named loggers (the root logger without names) write meanwhile, parsed.

    A real worker runs ``django.setup()``, which configures logging again and drops the
    root logger's handlers; a named logger that settings.LOGGING does not configure keeps
    its handler, so worker tests name the logger they read.
    """
    stream = io.StringIO()
    handler = production_handler(stream)
    loggers = [logging.getLogger(name) for name in names] or [logging.getLogger()]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
