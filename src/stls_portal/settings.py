"""Settings of the returns service, all from the environment (nothing secret is committed).

| variable | default | meaning |
|---|---|---|
| STLS_HOME | the repository's data/ | the warehouse home: landing zone, decisions, published release |
| STLS_PORTAL_DATABASE_URL | SQLite in $STLS_HOME/portal/ | e.g. postgresql://stls_portal@db/stls_portal |
| STLS_PORTAL_SECRET_KEY | generated once into $STLS_HOME/portal/secret_key | Django's signing key |
| STLS_PORTAL_ALLOWED_HOSTS | 127.0.0.1,localhost | comma-separated |
| STLS_PORTAL_DEBUG | 0 | 1 only on a developer's machine |
| STLS_PORTAL_SECURE | 0 | 1 behind HTTPS: secure cookies, HSTS |
| AIRFLOW_CONN_SMTP_DEFAULT | unset (receipts are logged, not sent) | the SMTP server the alerts use, as a URI |
| STLS_ALERT_FROM | stls-returns@localhost | the sender of receipts |
| STLS_OIDC_* | unset (local accounts only) | OpenID Connect sign-in, see stls_portal/oidc.py |
| STLS_AIRFLOW_API_URL | unset (the local run's record) | Airflow's API server, e.g. http://airflow-api-server:8080: the runs page reads each DAG's last run from /api/v2 |
| STLS_AIRFLOW_API_USERNAME, STLS_AIRFLOW_API_PASSWORD | unset | an Airflow user that may read DAGs (the simple auth manager's viewer) |
| STLS_AIRFLOW_API_TIMEOUT | 3 | seconds the runs page waits for Airflow before it says it could not be reached |
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from csp.constants import NONE, SELF

from stls_warehouse.config import stls_home
from stls_warehouse.intake.reader import MAX_FILE_BYTES

HOME = stls_home()
PORTAL_HOME = Path(os.environ.get("STLS_PORTAL_HOME") or HOME / "portal")
BASE_DIR = Path(__file__).resolve().parent


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in ("1", "true", "yes")


def _secret_key() -> str:
    key = os.environ.get("STLS_PORTAL_SECRET_KEY")
    if key:
        return key
    path = PORTAL_HOME / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _database() -> dict[str, object]:
    url = os.environ.get("STLS_PORTAL_DATABASE_URL")
    if not url:
        PORTAL_HOME.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": PORTAL_HOME / "portal.sqlite3",
            # WAL: readers never wait for the writer, and a commit is one append to the log
            # (synced at checkpoints: a power cut can lose the last commits, never corrupt).
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"STLS_PORTAL_DATABASE_URL must be a postgresql:// URL, not {parts.scheme}://")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "TEST": {"NAME": f"test_stls_portal{os.environ.get('STLS_TEST_PG_SUFFIX', '')}"},
    }


def _smtp() -> dict[str, object]:
    """Django's e-mail settings from the SMTP connection the alerts use (an Airflow URI)."""
    uri = os.environ.get("AIRFLOW_CONN_SMTP_DEFAULT", "")
    if not uri:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parts = urlsplit(uri)
    extra = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or 25,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": extra.get("ssl", "false").lower() == "true" or parts.scheme == "smtps",
        "EMAIL_USE_TLS": extra.get("disable_tls", "true").lower() == "false",
        "EMAIL_TIMEOUT": 20,
    }


SECRET_KEY = _secret_key()
DEBUG = _flag("STLS_PORTAL_DEBUG")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("STLS_PORTAL_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "mozilla_django_oidc",
    "axes",
    "csp",
    "stls_portal",
    "stls_portal.county",
]

MIDDLEWARE = [
    "stls_portal.limits.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "stls_portal.county.read_only.AuditorReadOnlyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "stls_portal.urls"
WSGI_APPLICATION = "stls_portal.wsgi.application"
AUTH_USER_MODEL = "stls_portal.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "stls_portal.views.service_context",
            ],
        },
    }
]

DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords: Argon2 first (new and re-hashed passwords), PBKDF2 still verifies older ones.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in: django-axes first (it refuses a locked-out sign-in before any password is checked),
# then local accounts, then OpenID Connect when configured.
OIDC_ENABLED = bool(os.environ.get("STLS_OIDC_ISSUER"))
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    *(["stls_portal.oidc_backend.RoleMappingBackend"] if OIDC_ENABLED else []),
]
AXES_FAILURE_LIMIT = int(os.environ.get("STLS_PORTAL_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("STLS_PORTAL_LOCKOUT_HOURS", "0.5"))  # hours
# Lock the account that is being guessed, wherever the guesses come from; locking by address
# too would lock out a whole school behind one council proxy after one user's mistakes.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

if OIDC_ENABLED:
    from stls_portal.oidc import oidc_settings

    globals().update(oidc_settings())

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
SECURE = _flag("STLS_PORTAL_SECURE")
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# No inline script or style anywhere: every script and stylesheet is a file of this service.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF, *([os.environ["STLS_OIDC_ISSUER"]] if OIDC_ENABLED else [])],
        "frame-ancestors": [NONE],
    }
}

# The contract's 20 MB limit on a return; a request body may add a little multipart framing.
MAX_RETURN_BYTES = MAX_FILE_BYTES
MAX_REQUEST_BYTES = MAX_FILE_BYTES + 256 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024  # form fields other than the file
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES  # a return is read whole anyway: keep it in memory
FILE_UPLOAD_HANDLERS = ["stls_portal.limits.CappedMemoryUploadHandler"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# Static files are served from the package by whitenoise's finders; STLS_PORTAL_STATIC_ROOT
# only for a deployment that runs collectstatic.
STATIC_ROOT = os.environ.get("STLS_PORTAL_STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

globals().update(_smtp())
DEFAULT_FROM_EMAIL = os.environ.get("STLS_ALERT_FROM") or "stls-returns@localhost"
# The runs page's source of the last run of each DAG, when the deployment gives it.
AIRFLOW_API_URL = os.environ.get("STLS_AIRFLOW_API_URL", "").strip()
AIRFLOW_API_USERNAME = os.environ.get("STLS_AIRFLOW_API_USERNAME", "")
AIRFLOW_API_PASSWORD = os.environ.get("STLS_AIRFLOW_API_PASSWORD", "")
AIRFLOW_API_TIMEOUT = float(os.environ.get("STLS_AIRFLOW_API_TIMEOUT") or 3)

SERVICE_NAME = "STLS returns"
ORGANISATION = "Kent County Council"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"stls_portal": {"handlers": ["console"], "level": "INFO"}},
}
