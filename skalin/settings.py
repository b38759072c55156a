"""One settings file. Every value has a local default that runs (SQLite, a broker on the filesystem);
the environment (or a `.env` file) switches to real services without a code change."""

from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="skalin-local-only-secret-key-change-me-in-production-0123456789")
if (
    not DEBUG
    and SECRET_KEY.startswith("skalin-local-only")
    and env.bool("REQUIRE_REAL_SECRETS", default=False)
):
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment when REQUIRE_REAL_SECRETS is on.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Shown on every response (X-Skalin-Version) so that an open tab can tell a deploy happened.
APP_VERSION = env.str("APP_VERSION", default="0.1.0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "django_celery_beat",
    "workspaces",
    "customers",
    "agreements",
    "interactions",
    "integrations",
    "crm_migration",
    "healthscore",
    "playbooks",
    "search",
    "reports",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "workspaces.middleware.CurrentWorkspaceMiddleware",
    "skalin.middleware.AppVersionMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "skalin.urls"
WSGI_APPLICATION = "skalin.wsgi.application"

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
                "csp.context_processors.nonce",
                "workspaces.context_processors.current_workspace",
                "integrations.context_processors.admin_notifications",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process, the worker and beat share the embedded database.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://skalin")}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = env.int("INVITE_LINK_TIMEOUT_SECONDS", default=7 * 24 * 3600)

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind HTTPS (SECURE_COOKIES=true) redirect plain HTTP and pin HTTPS; a proxy tells us the scheme.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SESSION_COOKIE_SECURE)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SESSION_COOKIE_SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SESSION_COOKIE_SECURE)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SESSION_COOKIE_SECURE)
if env.bool("BEHIND_HTTPS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_FAILURE_VIEW = "skalin.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# WhiteNoise warns on every request while the folder is missing (before the first collectstatic).
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names, so that a deploy never serves a stale script or stylesheet.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Without collectstatic (tests, a first runserver) fall back to the plain name instead of failing.
WHITENOISE_MANIFEST_STRICT = False
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Skalin <no-reply@skalin.local>")

# Celery: a broker on the filesystem unless CELERY_BROKER_URL names a real one.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {
            "data_folder_in": str(_broker_dir / "out"),
            "data_folder_out": str(_broker_dir / "out"),
            "processed_folder": str(_broker_dir / "processed"),
            "control_folder": str(_broker_dir / "control"),
            "store_processed": False,
        }
    )
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Sunday night, as the FAQ promises; playbooks-daily (04:30) then sees the new scores.
    "health-scores-weekly": {
        "task": "healthscore.tasks.compute_all_health_scores",
        "schedule": crontab(minute=0, hour=23, day_of_week="sun"),
        "options": {"expires": 6 * 3600},
    },
    "usage-events-aggregate": {
        "task": "healthscore.tasks.aggregate_usage_events",
        "schedule": crontab(minute="*/30"),
        "options": {"expires": 25 * 60},
    },
    "search-reindex-every-15-minutes": {
        "task": "search.tasks.reindex_search",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 14 * 60},
    },
    "reports-daily": {
        "task": "reports.tasks.compute_daily_reports",
        "schedule": crontab(minute=30, hour=2),
        "options": {"expires": 6 * 3600},
    },
    "playbooks-events": {
        "task": "playbooks.tasks.process_playbook_events",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 240},
    },
    # After the daily agreement refresh (renewal dates) and the Sunday-night health scores.
    "playbooks-daily": {
        "task": "playbooks.tasks.run_time_based_playbooks",
        "schedule": crontab(minute=30, hour=4),
        "options": {"expires": 6 * 3600},
    },
    "crm-sync-hourly": {
        "task": "integrations.tasks.sync_all_connections",
        "schedule": crontab(minute=0),
        "options": {"expires": 3000},
    },
    "interactions-last-contact-hourly": {
        "task": "interactions.tasks.refresh_recent_last_contacts",
        "schedule": crontab(minute=20),
        "options": {"expires": 3000},
    },
    "agreements-refresh-daily": {
        "task": "agreements.tasks.refresh_agreement_statuses",
        "schedule": crontab(minute=5, hour=0),
        "options": {"expires": 6 * 3600},
    },
}
CELERY_TIMEZONE = "UTC"

# ---- CRM integrations ------------------------------------------------------------------------------
# Tokens are encrypted with keys of their own (MultiFernet: the first key encrypts, all decrypt, so keys
# rotate by prepending). Without TOKEN_ENCRYPTION_KEYS a local key is generated once under var/.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])
TOKEN_KEY_FILE = VAR_DIR / "token-encryption.key"

# The wire-compatible fake CRMs (sandbox app): on for the demo and tests, never in production by default.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
SANDBOX_BASE_URL = env.str("SANDBOX_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Keep a row per sandbox API call even without a rate limit (benchmarks count them).
SANDBOX_RECORD_CALLS = env.bool("SANDBOX_RECORD_CALLS", default=False)


def _crm_url(name: str, vendor_default: str, sandbox_path: str) -> str:
    """Vendors' real endpoints by default; the environment (or the sandbox) may point elsewhere."""
    default = f"{SANDBOX_BASE_URL}{sandbox_path}" if SANDBOX_ENABLED else vendor_default
    return env.str(name, default=default).rstrip("/")


CRM_SETTINGS = {
    "hubspot": {
        "api_url": _crm_url("HUBSPOT_API_URL", "https://api.hubapi.com", "/sandbox/hubspot"),
        "auth_url": _crm_url("HUBSPOT_AUTH_URL", "https://app.hubspot.com", "/sandbox/hubspot-app"),
        "client_id": env.str(
            "HUBSPOT_CLIENT_ID", default="sandbox-hubspot-client" if SANDBOX_ENABLED else ""
        ),
        "client_secret": env.str(
            "HUBSPOT_CLIENT_SECRET", default="sandbox-secret" if SANDBOX_ENABLED else ""
        ),
    },
    "salesforce": {
        "login_url": _crm_url(
            "SALESFORCE_LOGIN_URL", "https://login.salesforce.com", "/sandbox/salesforce-login"
        ),
        "client_id": env.str(
            "SALESFORCE_CLIENT_ID", default="sandbox-salesforce-client" if SANDBOX_ENABLED else ""
        ),
        "client_secret": env.str(
            "SALESFORCE_CLIENT_SECRET", default="sandbox-secret" if SANDBOX_ENABLED else ""
        ),
        "api_version": env.str("SALESFORCE_API_VERSION", default="v60.0"),
    },
    "pipedrive": {
        "auth_url": _crm_url("PIPEDRIVE_AUTH_URL", "https://oauth.pipedrive.com", "/sandbox/pipedrive-oauth"),
        # Used when a token response carries no api_domain (crm-apis.md §3.1).
        "api_url": _crm_url("PIPEDRIVE_API_URL", "https://api.pipedrive.com", "/sandbox/pipedrive"),
        "client_id": env.str(
            "PIPEDRIVE_CLIENT_ID", default="sandbox-pipedrive-client" if SANDBOX_ENABLED else ""
        ),
        "client_secret": env.str(
            "PIPEDRIVE_CLIENT_SECRET", default="sandbox-secret" if SANDBOX_ENABLED else ""
        ),
    },
    "zoho": {
        "accounts_url": _crm_url("ZOHO_ACCOUNTS_URL", "https://accounts.zoho.com", "/sandbox/zoho-accounts"),
        "client_id": env.str("ZOHO_CLIENT_ID", default="sandbox-zoho-client" if SANDBOX_ENABLED else ""),
        "client_secret": env.str("ZOHO_CLIENT_SECRET", default="sandbox-secret" if SANDBOX_ENABLED else ""),
    },
    "sellsy": {
        "api_url": _crm_url("SELLSY_API_URL", "https://api.sellsy.com", "/sandbox/sellsy"),
        "auth_url": _crm_url("SELLSY_AUTH_URL", "https://login.sellsy.com", "/sandbox/sellsy-login"),
        "client_id": env.str("SELLSY_CLIENT_ID", default="sandbox-sellsy-client" if SANDBOX_ENABLED else ""),
        "client_secret": env.str("SELLSY_CLIENT_SECRET", default="sandbox-secret" if SANDBOX_ENABLED else ""),
    },
}
# Hosts a provider may hand back (Salesforce instance_url...) are checked against these before any token
# is sent there.
CRM_ALLOWED_HOST_SUFFIXES = {
    "salesforce": [".salesforce.com", ".force.com", ".salesforce.mil", ".sfcrmproducts.cn"],
    "pipedrive": [".pipedrive.com"],
    # Zoho data centres: the API domain and the accounts server both come back from Zoho.
    "zoho": [
        ".zohoapis.com",
        ".zohoapis.eu",
        ".zohoapis.in",
        ".zohoapis.com.au",
        ".zohoapis.jp",
        ".zohoapis.ca",
        ".zohoapis.sa",
        ".zohoapis.com.cn",
        ".zoho.com",
        ".zoho.eu",
        ".zoho.in",
        ".zoho.com.au",
        ".zoho.jp",
        ".zohocloud.ca",
        ".zoho.sa",
        ".zoho.com.cn",
    ],
}
CRM_HTTP_TIMEOUT = env.float("CRM_HTTP_TIMEOUT", default=30.0)
CRM_HTTP_MAX_RETRIES = env.int("CRM_HTTP_MAX_RETRIES", default=4)
# Never wait longer than this inside a task; longer waits end the run as rate-limited with a resume time.
CRM_MAX_INLINE_WAIT_SECONDS = env.float("CRM_MAX_INLINE_WAIT_SECONDS", default=30.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
