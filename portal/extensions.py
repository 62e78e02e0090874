"""Flask extensions, created once and bound in the factory."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# Storage comes from RATELIMIT_STORAGE_URI: memory:// in development, Redis in production.
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
