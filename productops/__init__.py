"""productops: the Django project and the platform core."""

# Load the Celery app with Django so @shared_task binds to it.
from productops.celery import app as celery_app

__all__ = ("celery_app",)
