#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "productops.settings")
    if "SECRET_KEY" not in os.environ:
        # No secret in the environment: a development checkout, not a server (production
        # must set SECRET_KEY, and gunicorn and Celery never pass through here). Debug
        # mode lets `manage.py makemigrations` and friends run with no set-up; an explicit
        # DEBUG=0 still demands a key.
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
