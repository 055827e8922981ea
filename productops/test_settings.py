"""Settings for the test suite: the real settings, with a test-only key and fast hashing.

``DATABASE_URL`` / ``REDIS_URL`` are honoured as in production, so CI runs the
suite on PostgreSQL and Redis; without them, SQLite and the filesystem broker.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789abcdef")
if not os.environ.get("REDIS_URL"):
    # A private broker folder per test run, so a dev's `make run` worker never
    # picks up test messages and stale test messages never linger.
    os.environ.setdefault("CELERY_BROKER_DIR", tempfile.mkdtemp(prefix="productops-test-broker-"))
os.environ.setdefault("CELERY_QUEUE", "productops-test")
# Under pytest-xdist each worker (PYTEST_XDIST_WORKER, set before settings load) has a queue
# of its own on the shared broker, so one worker's purge or real worker never takes the
# other's messages (tests/xdist_support.py). Suffixed here, as the controller's queue name
# reaches the workers through the environment; their own subprocesses keep the suffix.
if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ["CELERY_QUEUE"].endswith(
    "-" + os.environ["PYTEST_XDIST_WORKER"]
):
    os.environ["CELERY_QUEUE"] += "-" + os.environ["PYTEST_XDIST_WORKER"]
# The test client speaks plain HTTP; the HTTPS settings are covered by `check --deploy`.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from productops.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None

# django-zeal, the N+1 detector, for the whole suite: installing the app patches the ORM
# (only here, never in production settings); the middleware gives each request its own
# count, and tests/conftest.py's autouse fixture covers the rest of each test. An N+1
# raises NPlusOneError. The allow-list, one entry per reason, is tests/zeal_allowlist.py.
# ZEAL=0 leaves it out (to measure its overhead; CI never sets it).
if os.environ.get("ZEAL", "1") != "0":
    from tests.zeal_allowlist import ZEAL_ALLOWLIST  # noqa: F401

    INSTALLED_APPS = [*INSTALLED_APPS, "zeal"]  # noqa: F405
    MIDDLEWARE = ["zeal.middleware.zeal_middleware", *MIDDLEWARE]  # noqa: F405
    ZEAL_RAISE = True
    ZEAL_SHOW_ALL_CALLERS = False  # the first caller is in the message; True shows every stack

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared-cache in-memory database: threads in tests (a
    # real worker, concurrent recomputes) then lock and wait as `make run` does.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.mkdtemp(prefix="productops-test-db-"), "test.sqlite3")
    }
