"""Settings for productops, read from the environment (12-factor).

Zero-setup default: a SQLite file and a server-less Celery broker under ``var/``.
Production: set ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL``, ``SECRET_KEY`` and
``ALLOWED_HOSTS``; ``DEBUG`` is off unless asked for, and with it off a missing
``SECRET_KEY`` is an error rather than a silently insecure default.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only reachable with DEBUG on: a local, throwaway development key.
    SECRET_KEY = "django-insecure-local-development-only-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_beat",
    "anymail",
    # django-csp: its system checks refuse the pre-4.0 CSP_* settings.
    "csp",
    "productops",
    "roadmap",
    "feedback",
    "priority",
    "releases",
    "comms",
    "portal",
    "board",
]

MIDDLEWARE = [
    # First, so every answer (health checks and errors included) carries X-Request-ID.
    "productops.request_id.RequestIdMiddleware",
    # Answers /healthz and /readyz before host checks and HTTPS redirects, so
    # load balancers and container health checks work whatever ALLOWED_HOSTS says.
    "productops.health.HealthCheckMiddleware",
    # A database that is down or too slow answers 503 with Retry-After (HTML; JSON under /api/).
    "productops.db.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: the admin console's writes are audited as their operator.
    "productops.admin_audit.AdminOperatorAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy and Permissions-Policy (section "Content-Security-Policy" below).
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # API answers: RateLimit-* headers from the throttles, weak ETags and 304s.
    "productops.api.middleware.RateLimitHeadersMiddleware",
    "productops.api.middleware.ETagMiddleware",
]

ROOT_URLCONF = "productops.urls"
WSGI_APPLICATION = "productops.wsgi.application"
AUTH_USER_MODEL = "productops.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

# --- Database timeouts -----------------------------------------------------------
# docs/reliability.md, "Database timeouts"; productops/db/. On PostgreSQL only.
# libpq: connecting gives up after this many seconds (psycopg's minimum is 2).
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5)
# The kernel errors a connection whose sent data stays unacknowledged this long (a dropped
# link); keepalives find a dead peer of an idle persistent connection within ~10 s.
DB_TCP_USER_TIMEOUT_MS = env_int("DB_TCP_USER_TIMEOUT_MS", 5000)
# Server side, as the role's defaults in the database (set by migrate, productops/db/roles.py):
# a statement, a lock wait, a transaction left idle. 0 means no limit.
DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 5000)
DB_LOCK_TIMEOUT_MS = env_int("DB_LOCK_TIMEOUT_MS", 3000)
DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = env_int("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60000)
# The recompute's transactions (SET LOCAL) and migrate's session.
DB_LONG_STATEMENT_TIMEOUT_MS = env_int("DB_LONG_STATEMENT_TIMEOUT_MS", 600000)
# The app's own deadline on every database round trip: what ends a blackholed link, where
# the server never sees the query. Longer than the statement timeout, so on a healthy link
# the server's error comes first.
DB_CLIENT_TIMEOUT_MS = env_int("DB_CLIENT_TIMEOUT_MS", DB_STATEMENT_TIMEOUT_MS + 1000)
# The whole process runs with the long limits (benchmark seeding, one-off scripts; direct
# connections only: it sets them on the session).
DB_LONG_RUNNING = env_bool("DB_LONG_RUNNING")

# --- Database ---------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'productops.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat share the file without
    # "database is locked" on every concurrent write.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend plus a deadline on every round trip (productops/db/backends/postgresql).
    DATABASES["default"]["ENGINE"] = "productops.db.backends.postgresql"
    # libpq's client limits (options in DATABASE_URL's query string win): a refused or
    # silently dropped connection errors within about DB_CONNECT_TIMEOUT seconds.
    DATABASES["default"]["OPTIONS"] = {
        "connect_timeout": DB_CONNECT_TIMEOUT,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": DB_TCP_USER_TIMEOUT_MS,
        **DATABASES["default"].get("OPTIONS", {}),
    }
    # Behind PgBouncer in transaction mode a named cursor cannot outlive its transaction:
    # `.iterator()` then fetches in chunks client-side (docs/performance.md, "Growth").
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DB_DISABLE_SERVER_SIDE_CURSORS")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttling, locks) ----------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")


def _redis_cache_url(broker_url: str) -> str:
    """The broker's Redis server, next database number: a cache flush never drops queued tasks."""
    base, _, db = broker_url.rstrip("/").rpartition("/")
    if base.startswith("redis") and db.isdigit():
        return f"{base}/{(int(db) + 1) % 16}"
    return broker_url.rstrip("/") + "/1"


if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_CACHE_URL") or _redis_cache_url(REDIS_URL),
            "KEY_PREFIX": "productops",
        }
    }
else:
    # Shared between the web server, worker and beat processes of `make run`.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -------------------------------------------------------------------
# Argon2id (productops/hashers.py has the measured parameters); older hashes are upgraded
# at the next sign-in.
PASSWORD_HASHERS = [
    "productops.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
# Failed sign-ins allowed per client address and username in LOGIN_FAILURE_WINDOW seconds.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Hashed, compressed files once `collectstatic` has run (the Docker image does);
# plain files from the apps otherwise, so DEBUG=0 without collectstatic still works.
_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _COLLECTED and not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Serve static files straight from the app folders when collectstatic has not
# been run (make run, tests); production images run collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or not _COLLECTED

# --- Request limits ---------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE)
# How long an Idempotency-Key's stored response is replayed (productops.idempotency).
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)

# --- Email ------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    # Development: every message is a file under var/mail/ (EMAIL_FILE_PATH), so the
    # demo's digests and notices can be read after `make run`.
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "productops <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where django.core.mail.backends.filebased.EmailBackend writes one file per message.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
INVITATION_MAX_AGE = timedelta(days=env_int("INVITATION_MAX_AGE_DAYS", 7))

# --- Feedback themes (feedback app) --------------------------------------------
# Threads the themes recompute runs the encoder on (each batch on one core). Every six
# hours, or on demand, it takes both cores of a 2-core box for ten seconds or so; 1 keeps it
# on its worker's core and takes twice as long.
FEEDBACK_THEMES_THREADS = max(1, env_int("FEEDBACK_THEMES_THREADS", 2))

# --- Public feedback board (board app) ---------------------------------------
# How long a magic sign-in link works.
BOARD_MAGIC_LINK_MINUTES = env_int("BOARD_MAGIC_LINK_MINUTES", 30)
# Writes (sign-in requests, ideas, votes, comments) allowed per client address,
# per verified contact and (sign-in links) per e-mail address in each window.
BOARD_THROTTLE_WINDOW = env_int("BOARD_THROTTLE_WINDOW", 60 * 60)
BOARD_THROTTLE_PER_IP = env_int("BOARD_THROTTLE_PER_IP", 120)
BOARD_THROTTLE_PER_CONTACT = env_int("BOARD_THROTTLE_PER_CONTACT", 60)
BOARD_THROTTLE_PER_EMAIL = env_int("BOARD_THROTTLE_PER_EMAIL", 5)
BOARD_THROTTLE_LOOKUPS_PER_CONTACT = env_int("BOARD_THROTTLE_LOOKUPS_PER_CONTACT", 600)

# --- Security (check --deploy clean when DEBUG is off) -----------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # The directive only consents to preloading; submitting the domain stays the operator's choice.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # The cookies' Secure flags: section "Cookies" below.
if env_bool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Cookies -----------------------------------------------------------------------
# docs/security.md, "Cookies". The app sets two: the session (portal sign-in, the board's
# verified contacts, the shown-once keys) and the CSRF token. Flash messages are kept in the
# session, not in a third "messages" cookie.
# Secure whenever DEBUG is off (`make run` speaks plain HTTP).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# No script reads either cookie: htmx (hx-headers on <body>), the browsable API and Swagger
# UI take the CSRF token from the page, never from document.cookie.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Lax, not Strict: a Strict cookie is left off the top-level navigation that follows a link
# from an e-mail (a magic link, an invitation, a digest's link into the portal), so a signed-in
# person would land signed out. Lax still keeps both cookies off cross-site POSTs and
# subresource requests.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# __Host-: the browser keeps the cookie only if it is Secure, has Path=/ and no Domain, so no
# other host (a sibling subdomain) can set or shadow it. Only with Secure: over plain HTTP in
# development the browser would drop a __Host- cookie, so the names stay plain there.
SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if CSRF_COOKIE_SECURE else "csrftoken"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Django's database sessions and sign-in backend, with what they hold (a shown-once key, the
# password) hidden from error reports: productops/session_store.py, productops/auth_backends.py.
SESSION_ENGINE = "productops.session_store"
AUTHENTICATION_BACKENDS = ["productops.auth_backends.ModelBackend"]

# --- Content-Security-Policy ----------------------------------------------------
# docs/security.md. One strict policy for every page: only this origin's files, no inline
# script or style (no nonce either: nothing needs one), no third-party origin, and no
# framing. The public board's and changelog's pages replace frame-ancestors with their
# workspace's allow-list (Workspace.embed_origins, board/views/embedding.py); the browsable
# API adds inline style attributes only (productops/api/renderers.py). Violations are
# reported to a same-origin endpoint that logs them (productops/csp_report.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "report-uri": ["/csp-report/"],
    },
}
# A report is at most this many bytes, and each client address may send this many a minute.
CSP_VIOLATION_REPORT_MAX_BYTES = env_int("CSP_VIOLATION_REPORT_MAX_BYTES", 8 * 1024)
CSP_VIOLATION_REPORTS_PER_MINUTE = env_int("CSP_VIOLATION_REPORTS_PER_MINUTE", 30)
# No cross-origin Referer at all: public pages carry tokens in their paths (magic links,
# unsubscribe links) and release notes link to other sites. Same-origin requests keep it,
# which Django's CSRF check over HTTPS needs.
SECURE_REFERRER_POLICY = "same-origin"
# Powerful browser features nobody here uses, refused to the pages and any frame in them
# (django-permissions-policy). Only features Chromium knows: an unknown one is a console error.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "productops.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: uploads (CSV import) opt in per view, with their own size limits.
    "DEFAULT_PARSER_CLASSES": ["productops.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # DRF's, fitted to the Content-Security-Policy (inline style attributes only).
        "productops.api.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "productops.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "productops.api.throttling.UserThrottle",
        "productops.api.throttling.AnonThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("API_THROTTLE_USER", "1200/minute"),
        "anon": os.environ.get("API_THROTTLE_ANON", "60/minute"),
        # Signed deliveries from tools (no user): per webhook and sending address.
        "inbound_webhook": os.environ.get("API_THROTTLE_INBOUND_WEBHOOK", "600/minute"),
    },
    "EXCEPTION_HANDLER": "productops.api.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "productops.api.metadata.SafeMetadata",
    "DEFAULT_SCHEMA_CLASS": "productops.api.schema.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Proxies in front of the app; 0 means trust REMOTE_ADDR, not a client-sent X-Forwarded-For.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "productops API",
    "DESCRIPTION": (
        "Versioned REST API of productops. Authenticate with a session or with "
        "`Authorization: Bearer <token>`; every workspace resource lives under "
        "`/api/v1/workspaces/{workspace_slug}/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "productops.models.Role",
        # Two choice sets share the field name "source"; the criteria's keeps its earlier name.
        "SourceEnum": "roadmap.models.ScorecardCriterion.Source",
        "FeedbackSourceEnum": "feedback.models.FeedbackItem.Source",
        "FeatureStatusEnum": "roadmap.models.FeatureStatus",
        # Releases: a status and two states that share field names with other choice sets (and
        # the feedback state keeps its name).
        "StateEnum": "feedback.models.FeedbackItem.State",
        "ReleaseStatusEnum": "releases.models.ReleaseStatus",
        "ReleaseManualStatusEnum": "api.releases.serializers.MANUAL_STATUS_CHOICES",
        "ScopeStateEnum": "releases.models.ScopeState",
        "ChecklistStateEnum": "releases.models.ChecklistState",
        # Comms: the delivery state, two channel sets, the stakeholder kind and what a
        # subscription follows share field names with others (the earlier ones keep their names).
        "DeliveryStateEnum": "productops.outbox.models.DeliveryState",
        "DeliveryChannelEnum": "productops.outbox.models.Channel",
        "SubscriptionChannelEnum": "comms.models.Channel",
        "KindEnum": "feedback.models.FeedbackItem.Kind",
        "StakeholderKindEnum": "comms.models.StakeholderKind",
        "TypeEnum": ["validation_error", "client_error", "server_error"],
        "SubscriptionTargetEnum": "api.comms.serializers.FOLLOWS_CHOICES",
        "WebhookEventTypeEnum": "api.comms.serializers.WEBHOOK_EVENT_CHOICES",
        "WebhookFormatEnum": "comms.models.WebhookFormat",
        "ThresholdMetricEnum": "comms.models.ThresholdMetric",
        "LoopSuppressedReasonEnum": "api.comms.serializers.LOOP_SUPPRESSED_CHOICES",
        # Saved views (issue 13): the page of a view and the state of a share link.
        "SavedViewKindEnum": "roadmap.models.SavedView.Kind",
        "ShareLinkStateEnum": ["active", "expired", "revoked"],
        # Why a duplicate is suggested (words, meaning or both).
        "DuplicateReasonEnum": "feedback.models.DuplicateSuggestion.Reason",
    },
}

# --- Celery -----------------------------------------------------------------
# Without REDIS_URL the broker is kombu's filesystem transport: a real worker
# and beat exchange messages through files under var/, with no server.
CELERY_BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", VAR_DIR / "broker"))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task (task_time_limit), so a slow task is not
        # redelivered to a second worker while the first still runs it.
        "visibility_timeout": max(2 * 60 * 60, 2 * env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)),
    }
else:
    CELERY_BROKER_URL = "filesystem://localhost//"  # the host is ignored; naming it avoids a warning
    CELERY_RESULT_BACKEND = f"file://{CELERY_BROKER_DIR / 'results'}"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # The worker lists the queue folder this often; kombu's default of 1 s
        # lets a burst of small tasks trickle through at two a second.
        "polling_interval": 0.1,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "productops")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging ------------------------------------------------------------------
# One JSON object per line (productops/logs.py), or with LOG_FORMAT=plain readable lines,
# the default with DEBUG (make run). Every line carries the request id and, where known, the
# user, the workspace and the Celery task (productops.request_id.RequestContextFilter); the
# worker and beat use this same configuration (productops/task_context.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING_CONFIG = "productops.logs.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "productops.request_id.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "productops.logs.JsonFormatter"},
        "plain": {"()": "productops.logs.PlainFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Without Django's own handlers (a DEBUG-only console, mail_admins without ADMINS),
        # its lines reach the root handler once, in the chosen format.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Gunicorn's lines too, once the app has loaded in a worker (the master's need
        # gunicorn.conf.py's logconfig_dict). Access lines take request_id from X-Request-ID.
        "gunicorn.error": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Outbox (docs/reliability.md, "The outbox") --------------------------------------
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 300)
# http://localhost webhook and Slack URLs: only in development, or for a local test receiver.
OUTBOX_ALLOW_LOCALHOST = env_bool("OUTBOX_ALLOW_LOCALHOST")
# django-anymail: every non-empty ANYMAIL_<NAME> variable is the setting <NAME> (the
# provider's credentials, e.g. ANYMAIL_MAILGUN_API_KEY); WEBHOOK_SECRET also mounts the
# provider's bounce and complaint webhooks (django-anymail's tracking views).
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and value
}
ANYMAIL.setdefault("WEBHOOK_SECRET", "")
