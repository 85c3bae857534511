"""An on-disk cache of training records, one JSON file per run, written atomically.

Each entry holds the record and a sha256 of it; an entry that cannot be read,
does not parse, or fails its checksum counts as missing (and is removed), so
an interrupted write or a damaged file costs a recomputation, never a wrong
result. Writes go to a temporary file in the same folder and are renamed into
place, so readers never see half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ResultCache", "default_cache_dir"]

_FORMAT = 1


def default_cache_dir() -> Path:
    """``$LRNOTES_CACHE_DIR``, else ``$XDG_CACHE_HOME/lrnotes``, else ``~/.cache/lrnotes``.

    Examples
    --------
    >>> import os
    >>> os.environ["LRNOTES_CACHE_DIR"] = "/tmp/my-cache"
    >>> str(default_cache_dir())
    '/tmp/my-cache'
    >>> del os.environ["LRNOTES_CACHE_DIR"]
    """
    if os.environ.get("LRNOTES_CACHE_DIR"):
        return Path(os.environ["LRNOTES_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lrnotes"


def _payload_digest(columns: list[str], data: list[list[Any]]) -> str:
    text = json.dumps({"columns": columns, "data": data}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _to_json_value(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else repr(value)  # JSON has no NaN
    return value


def _from_json_value(value: Any) -> Any:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return value


class ResultCache:
    """Training records on disk, keyed by a hex digest.

    Parameters
    ----------
    directory : str or Path
        Where entries live; created on the first write.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> cache = ResultCache(tempfile.mkdtemp())
    >>> cache.put("ab" * 32, pd.DataFrame({"epoch": [0, 1], "loss": [1.0, float("nan")]}))
    >>> cache.get("ab" * 32)["loss"].isna().tolist()
    [False, True]
    >>> cache.get("cd" * 32) is None
    True
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        """The file of entry ``key``."""
        if not isinstance(key, str) or len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache keys are lowercase hex digests, got {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> pd.DataFrame | None:
        """The record stored under ``key``, or ``None`` when missing or damaged."""
        path = self.path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            columns, data = entry["columns"], entry["data"]
            if entry.get("format") != _FORMAT or entry.get("key") != key:
                raise ValueError("wrong format or key")
            if entry.get("sha256") != _payload_digest(columns, data):
                raise ValueError("checksum mismatch")
            rows = [[_from_json_value(value) for value in row] for row in data]
            return pd.DataFrame(rows, columns=columns)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # damaged: drop it, the caller recomputes
            return None

    def put(self, key: str, frame: pd.DataFrame, meta: dict | None = None) -> None:
        """Store ``frame`` under ``key`` atomically (write a temporary file, then rename)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = [str(column) for column in frame.columns]
        data = [[_to_json_value(value) for value in row] for row in frame.itertuples(index=False, name=None)]
        entry = {
            "format": _FORMAT,
            "key": key,
            "meta": meta or {},
            "columns": columns,
            "data": data,
            "sha256": _payload_digest(columns, data),
        }
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:8]}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entry, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return self.entries()

    def entries(self) -> int:
        """The number of entries."""
        return sum(1 for _ in self.directory.glob("*/*.json")) if self.directory.exists() else 0

    def size(self) -> int:
        """The bytes the entries take on disk."""
        if not self.directory.exists():
            return 0
        return sum(path.stat().st_size for path in self.directory.glob("*/*.json"))

    def clear(self) -> None:
        """Remove every entry (and leftover temporary files)."""
        if self.directory.exists():
            for path in list(self.directory.glob("*/*.json")) + list(self.directory.glob("*/.*.tmp")):
                path.unlink(missing_ok=True)
