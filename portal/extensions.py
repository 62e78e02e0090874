"""Flask extensions, created once and bound in the factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItem, WindowStats
from limits.errors import StorageError
from limits.strategies import RateLimiter

log = logging.getLogger(__name__)

MEMORY_URI = "memory://"
# Schemes whose client takes socket timeouts (redis-py, or valkey's fork of it).
_REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "valkey", "valkeys", "valkey+unix")


class FailoverLimiter(Limiter):
    """Flask-Limiter whose counters move to this process's memory the moment the storage
    fails, at any step of a request, and move back when it answers again.

    Flask-Limiter 4.1's own in-memory fallback covers the check before the view and the
    headers, but its deferred deductions (``deduct_when``) and any direct use of
    ``limiter.limiter`` (the sign-in failure counts in ``admin.auth``) still raise, which
    answered a committed report, or a sign-in, with 500. Here every call through ``limiter``
    fails over. The library's recovery check (a PING, backing off up to 32 s) still decides
    when the storage is back.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(in_memory_fallback_enabled=True, **kwargs)
        self.storage_uri = MEMORY_URI

    def init_app(self, app: Flask) -> None:
        uri = self.storage_uri = app.config.get("RATELIMIT_STORAGE_URI") or MEMORY_URI
        options: dict[str, Any] = {"wrap_exceptions": True}  # every backend raises StorageError
        if uri.split("://", 1)[0] in _REDIS_SCHEMES:
            timeout = float(app.config.get("RATELIMIT_STORAGE_TIMEOUT", 0.5))
            # A Redis host that drops packets must cost a request half a second, not minutes.
            options.update(socket_connect_timeout=timeout, socket_timeout=timeout)
        # The extension is one object for every app built in a process (tests build several):
        # start from this app's storage, not the previous one's state or options.
        self._storage_options = {**options, **app.config.get("RATELIMIT_STORAGE_OPTIONS", {})}
        self._storage_dead = False
        super().init_app(app)

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None or self._fallback_limiter is None:
            return super().limiter
        return _Failover(self)

    @property
    def storage_shared(self) -> bool:
        """Whether the counters are meant to live outside this process (Redis in production)."""
        return self.storage_uri.split("://", 1)[0] != "memory"

    def storage_reachable(self) -> bool:
        """One PING (or the backend's equivalent), bounded by the storage's socket timeout."""
        return self._storage is not None and bool(self._storage.check())

    def fail_over(self, exc: BaseException) -> None:
        if not self._storage_dead:
            log.warning("Rate-limit storage unreachable (%s); counting limits in this "
                        "process's memory until it answers again", exc)
            self._storage_dead = True


class _Failover(RateLimiter):
    """The strategy on the configured storage, or on the in-memory fallback once that failed."""

    def __init__(self, extension: FailoverLimiter) -> None:
        assert extension._limiter is not None and extension._fallback_limiter is not None
        self._extension = extension
        self._primary = extension._limiter
        self._fallback = extension._fallback_limiter
        self.storage = (self._fallback if extension._storage_dead else self._primary).storage

    def _errors(self) -> tuple[type[BaseException], ...]:
        # wrap_exceptions covers the storage's counters; the moving-window scripts raise the
        # client's own errors.
        base = self._primary.storage.base_exceptions
        return (StorageError, *(base if isinstance(base, tuple) else (base,)))

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if not self._extension._storage_dead:
            try:
                return getattr(self._primary, name)(*args, **kwargs)
            except self._errors() as exc:
                self._extension.fail_over(exc)
        return getattr(self._fallback, name)(*args, **kwargs)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return bool(self._call("hit", item, *identifiers, cost=cost))

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return bool(self._call("test", item, *identifiers, cost=cost))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._call("get_window_stats", item, *identifiers)

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self._call("clear", item, *identifiers)


csrf = CSRFProtect()
# Storage comes from RATELIMIT_STORAGE_URI: memory:// in development, Redis in production.
limiter = FailoverLimiter(key_func=get_remote_address, headers_enabled=True)
