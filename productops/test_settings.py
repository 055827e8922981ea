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
# The test client speaks plain HTTP; the HTTPS settings are covered by `check --deploy`.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from productops.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared-cache in-memory database: threads in tests (a
    # real worker, concurrent recomputes) then lock and wait as `make run` does.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.mkdtemp(prefix="productops-test-db-"), "test.sqlite3")
    }
