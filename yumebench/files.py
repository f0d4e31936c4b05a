"""Writing files so that a crash, a kill -9, a full disk or a read-only folder never leaves a half file
and always names the file, for every command.

- ``atomic_write``: write to ``.<name>.<pid>.tmp`` beside the target, then rename; a failure removes
  the temporary and raises ``OSError`` carrying the *target's* name (a write error from the OS names no
  file: "No space left on device" alone says nothing about which file).
- ``sweep_stale_temporaries``: a killed process leaves its ``.<name>.<pid>.tmp``; the next run removes
  those whose process is gone.
- ``ensure_writable``: create a folder (with parents) and prove it takes a file, before expensive work.
- ``os_error_line``: the one-line message for an ``OSError``.
- ``sha256_file``: a file's SHA-256, read in blocks (weights, videos, panoramas checked against a manifest).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

_TMP = re.compile(r"^\..+\.(\d+)\.tmp$")

_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a path component is not a folder",
    errno.EISDIR: "is a folder",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop)",
    errno.EIO: "input/output error",
}


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` for a temporary beside ``path``, then rename it into place."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise OSError(e.errno, e.strerror, str(path)) from None
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_stale_temporaries(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Remove ``.<name>.<pid>.tmp`` files in ``folder`` whose writing process no longer exists."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        match = _TMP.match(path.name)
        if match and not _alive(int(match.group(1))):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def ensure_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and parents) and write and delete a probe file in it; raises ``OSError``
    naming the folder when it cannot take a file (read-only, no permission, no space)."""
    folder = Path(folder)
    probe = folder / f".yumebench-write-probe.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(folder)) from None
    return folder


def read_text(path: Path, kind: str, error: type[Exception], missing: str = "file not found") -> str:
    """The UTF-8 text of ``path``; a missing file, a folder, other bytes or an unreadable file raise
    ``error`` with one line naming the file (``kind``: what the file should be, e.g. "spec file")."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a {kind}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None


def os_error_line(e: OSError) -> str:
    """``<file>: <reason>`` for an OSError (the file when the error names one)."""
    reason = _REASONS.get(e.errno or 0) or (e.strerror or type(e).__name__).lower()
    where = e.filename if e.filename is not None else "<unnamed file>"
    if getattr(e, "filename2", None):
        where = f"{where} -> {e.filename2}"
    return f"{where}: {reason}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
