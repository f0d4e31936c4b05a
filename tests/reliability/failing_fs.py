"""Run the yumebench CLI with the file system refusing writes under one folder, as a read-only mount,
a permission error or a full disk would (tests run as root, where chmod refuses nothing).

    python failing_fs.py EROFS|EACCES|ENOSPC PREFIX [yumebench arguments...]

Patched: the Python-level ways to create or write a file (open for writing, os.open with write
flags, mkdir, replace/rename, write_text/write_bytes). Native writers are not patched; the CLI must
refuse before it reaches them (tests/reliability asserts that it does).
"""

import builtins
import errno
import io
import os
import pathlib
import sys

code, prefix = getattr(errno, sys.argv[1]), os.path.abspath(sys.argv[2])
sys.argv = ["yumebench", *sys.argv[3:]]


def _refused(path) -> bool:
    try:
        return os.path.abspath(os.fspath(path)).startswith(prefix)
    except TypeError:
        return False


def _raise(path):
    raise OSError(code, os.strerror(code), os.fspath(path))


_open = builtins.open


def patched_open(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+") and _refused(file):
        _raise(file)
    return _open(file, mode, *args, **kwargs)


builtins.open = io.open = patched_open
_os_open = os.open


def patched_os_open(path, flags, *args, **kwargs):
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _refused(path):
        _raise(path)
    return _os_open(path, flags, *args, **kwargs)


os.open = patched_os_open
for name in ("mkdir", "makedirs", "replace", "rename"):
    original = getattr(os, name)

    def patched(path, *args, _original=original, **kwargs):
        if _refused(path) or (args and _refused(args[0])):
            _raise(path)
        return _original(path, *args, **kwargs)

    setattr(os, name, patched)
_mkdir = pathlib.Path.mkdir


def patched_mkdir(self, *args, **kwargs):
    if _refused(self) and not (kwargs.get("exist_ok") and self.is_dir()):
        _raise(self)
    return _mkdir(self, *args, **kwargs)


pathlib.Path.mkdir = patched_mkdir

from yumebench.cli import main  # noqa: E402

main()
