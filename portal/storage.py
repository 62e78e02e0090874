"""Where uploaded files live. One small interface so that several app instances can share an
object store; the directory implementation is the default. Nothing of the web: the domain
stores through it, the app factory picks the implementation (``portal.web.files``)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(jpg|png|webp|pdf)$")
# A write in progress; never a stored name (names() skips it), removed by sweep_temporaries.
TEMP_PREFIX = ".upload-"


class Storage(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def get(self, name: str) -> bytes: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...
    def names(self) -> list[str]: ...
    def modified(self, name: str) -> float: ...
    def sweep_temporaries(self, cutoff: float) -> int: ...


class DirectoryStorage:
    """Files in one directory, written atomically: a temporary file, then a rename, so a
    failed write (a full disk) never leaves a partial file under its final name."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        if not _NAME_RE.match(name):
            raise ValueError("invalid stored name")
        return self.root / name

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if _NAME_RE.match(p.name))

    def modified(self, name: str) -> float:
        return self._path(name).stat().st_mtime

    def sweep_temporaries(self, cutoff: float) -> int:
        """Remove temporary files last written before ``cutoff`` (a timestamp): writes whose
        worker was killed before it could rename or remove them."""
        removed = 0
        for path in self.root.glob(f"{TEMP_PREFIX}*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # finished (renamed) or removed meanwhile
        return removed
