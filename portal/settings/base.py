"""Settings shared by every environment.

The environment is read here, in one place, with django-environ. Defaults need no server:
SQLite under ``var/`` and a file-system Celery transport. ``DATABASE_URL`` and
``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
"""

from email.utils import getaddresses
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A file of VARIABLE=value lines: `.env` beside manage.py, or PORTAL_ENV_FILE (a server install's
# /etc/portal/portal.env, the same file systemd gives the units). The environment wins over the file.
environ.Env.read_env(env.str("PORTAL_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "organisation.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "django_fsm",
    "simple_history",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The organisation app keeps the app label "portal" (organisation/apps.py); "portal" below is the shell.
    "organisation",
    "workflow",
    "billing",
    "dashboard",
    "portal",
]

MIDDLEWARE = [
    # First: every response, redirects included, carries the request id its log lines carry.
    "portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE avoids lock upgrades.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # At least 12 characters (the IT security review's minimum; Django's default is 8).
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic writes here; whitenoise serves it (production: a directory of the install, not the checkout).
STATIC_ROOT = env.path("PORTAL_STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploaded scans live outside the web root and are served only through permission-checked views.
MEDIA_ROOT = env.path("PORTAL_MEDIA_ROOT", default=str(VAR_DIR / "media"))

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
else:
    # Longer than the longest task (see field-notes: redelivery after visibility timeout).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing gives up quickly when the broker is down: the approval stands, the sweep enqueues later.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# A worker keeps its database connection from one task to the next (Celery closes it every
# 2 × this many tasks; portal.celery closes one that failed). A new PostgreSQL backend per task,
# with its caches cold, cost every posting chunk 7–15 ms: a quarter of a re-run's
# (docs/benchmarks.md "Posting").
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=500)
# The database holds the truth about progress; the sweeps resume whatever the broker lost.
CELERY_BEAT_SCHEDULE = {
    "posting-sweep": {"task": "billing.posting_sweep", "schedule": 60.0},
    "stats-sweep": {"task": "billing.stats_sweep", "schedule": 60.0},
    "settle-sweep": {"task": "workflow.settle_sweep", "schedule": 60.0},
}
# Where beat keeps the times of its last runs (production: /var/lib/portal, see deploy/portal.env.example).
CELERY_BEAT_SCHEDULE_FILENAME = env("PORTAL_BEAT_SCHEDULE", default=str(VAR_DIR / "celerybeat-schedule"))

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "organisation.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Relief portal API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # No CDN: Swagger UI and Redoc are served from the drf-spectacular-sidecar package's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise ask validator.swagger.io for a badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

PORTAL_NAME = _("COVID-19 electricity relief portal")

# --- Logs and error mail (docs/operations.md "Logs") ------------------------------------------
# PORTAL_LOG_JSON=1: one JSON object per line (python-json-logger) from web, worker and beat
# (portal.celery keeps Celery from replacing this configuration); otherwise plain text. Every
# record carries the request id of portal.middleware.RequestIdMiddleware (null outside requests).
PORTAL_LOG_JSON = env.bool("PORTAL_LOG_JSON", default=False)
_LOG_LEVEL = env("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "portal.observability.RequestIdFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {"json": {"()": "portal.observability.JsonFormatter", "fmt": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            **({"formatter": "json"} if PORTAL_LOG_JSON else {}),
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
    "loggers": {
        # Django's default handlers are replaced: its records reach the console once (through the
        # root), and only server errors (5xx) of requests are mailed to ADMINS (not DEBUG).
        "django": {"handlers": [], "level": _LOG_LEVEL, "propagate": True},
        "django.request": {"handlers": ["mail_admins"], "propagate": True},
    },
}
if PORTAL_LOG_JSON:
    # runserver's request lines have a plain handler of their own in Django's defaults.
    LOGGING["loggers"]["django.server"] = {"handlers": ["console"], "level": "INFO", "propagate": False}

# Who gets the error mails: DJANGO_ADMINS="Ops <ops@example.com>,Ann <ann@example.com>".
ADMINS = [(name, address) for name, address in getaddresses([env("DJANGO_ADMINS", default="")]) if address]
# EMAIL_URL (django-environ): smtp+tls://user:password@host:587, consolemail://, dummymail://…
globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
SERVER_EMAIL = env("DJANGO_SERVER_EMAIL", default="root@localhost")
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="webmaster@localhost")
EMAIL_SUBJECT_PREFIX = env("DJANGO_EMAIL_SUBJECT_PREFIX", default="[relief portal] ")
# The reverse proxies whose X-Forwarded-For is believed (addresses or networks), e.g. nginx's
# 127.0.0.1: a failed login is logged with the client's address, not the proxy's.
PORTAL_TRUSTED_PROXIES = env.list("PORTAL_TRUSTED_PROXIES", default=[])
# How long /healthz keeps its answer in the process (seconds): it needs no login.
PORTAL_HEALTH_CACHE_SECONDS = env.float("PORTAL_HEALTH_CACHE_SECONDS", default=5)

# --- Programme rules that are conventions or dates (programme.md M7) --------------------------
# The two-part relief's window, earliest seal date and waived rules are the policy row
# `two-part-relief-2020` (billing/policies.py, billing.rules), not settings.
# The normal rules outside the relief window.
PORTAL_CAPACITY_RULES = {
    "min_suspension_days": 15,
    "notice_days": 5,
    "max_suspensions_per_year": 2,
    "max_suspension_months_per_year": 6,
    "reduction_min_months": 6,
    "reduction_max_months": 24,
}
# Posting (billing.posting): accounts per chunk task, the PostgreSQL set-based fast path, and how
# long a job may stand still before the sweep resumes it.
PORTAL_POSTING_CHUNK_ACCOUNTS = env.int("PORTAL_POSTING_CHUNK_ACCOUNTS", default=2000)
PORTAL_POSTING_SQL = env.bool("PORTAL_POSTING_SQL", default=True)
PORTAL_POSTING_STALE_SECONDS = env.int("PORTAL_POSTING_STALE_SECONDS", default=120)
# Queue age limits per level, in days: older items are highlighted as overdue.
PORTAL_LEVEL_LIMIT_DAYS = {"report_1": 2, "report_2": 3, "approval_1": 3, "approval_2": 2, "approval_3": 2}
