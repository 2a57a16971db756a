"""Every input and output of automl-video is a URL read and written through fsspec.

Local paths, ``file://``, ``gs://`` and ``memory://`` work out of the box; ``s3://`` (AWS S3 and
S3-compatible stores such as MinIO, endpoint from ``AWS_ENDPOINT_URL_S3``) with the ``s3`` extra
(``pip install 'automl-video[s3]'``, s3fs). A URL whose filesystem driver is missing is one error
naming what to install. Writes are atomic: a local file is written under a temporary name in the same
folder and renamed; an object store publishes an object only when its single upload completes, so the
final name is never seen half-written. Folders travel with fsspec's recursive ``get`` / ``put``
(concurrent transfers on object stores).

TensorFlow's own ``tf.io.gfile`` cannot reach a GCS emulator, so code that needs a local file (Keras,
the TFLite converter, PyAV seeking) uses :func:`local_copy` / :func:`upload_dir` around it.
"""

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import fsspec

from automl_video.errors import AutoMLVideoError

# gcsfs probes for hierarchical-namespace buckets on every call unless told not to; against an emulator
# (and most buckets) that probe stalls for a minute. Must be set before gcsfs is imported.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# Raises PermissionError naming the URI when it may not be read or written (a server's allowed roots).
UriGuard = Callable[[str], None]
_LOCAL_PROTOCOLS = {"file", "local"}
_UMASK = os.umask(0)
os.umask(_UMASK)
# What a plain open() would give a new file: published files are never left 0600 by mkstemp.
PUBLISHED_FILE_MODE = 0o666 & ~_UMASK
# Filesystem drivers that are extras of this package, by URL scheme.
_EXTRAS = {"s3": "s3", "s3a": "s3"}


class MissingDriverError(AutoMLVideoError, ImportError):
    """A URL needs a filesystem driver that is not installed; the message says which to install."""


def refused(uri: str, guard: UriGuard | None) -> str | None:
    """Why ``guard`` refuses ``uri`` (its PermissionError's message), or None when it may be used."""
    if guard is None:
        return None
    try:
        guard(uri)
    except PermissionError as e:
        return str(e)
    return None


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """Return the fsspec filesystem for ``url`` and the path inside it.

    Raises:
        MissingDriverError: the URL's scheme needs a package that is not installed.
    """
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as e:
        scheme = url.split("://", 1)[0].lower()
        extra = _EXTRAS.get(scheme)
        fix = f"pip install 'automl-video[{extra}]'" if extra else f"install the fsspec driver of {scheme}:// ({e})"
        raise MissingDriverError(
            f"{url}: {scheme}:// URLs need a filesystem driver that is not installed: {fix}"
        ) from None
    return fs, path


def is_local(url: str) -> bool:
    fs, _ = filesystem(url)
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return any(p in _LOCAL_PROTOCOLS for p in protocols)


def local_path(url: str) -> str:
    """The OS path of a local URL (``file:///a/b`` → ``/a/b``)."""
    if not is_local(url):
        raise ValueError(f"{url}: not a local path")
    return filesystem(url)[1]


def join(url: str, *parts: str) -> str:
    """Join URL path segments with ``/`` (never ``os.path.join``: URLs are not OS paths)."""
    out = url.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def exists(url: str) -> bool:
    fs, path = filesystem(url)
    return fs.exists(path)


def size(url: str) -> int:
    fs, path = filesystem(url)
    return int(fs.size(path))


def info(url: str) -> dict[str, Any]:
    fs, path = filesystem(url)
    return fs.info(path)


def listdir(url: str) -> list[str]:
    """Full URLs of the entries directly under ``url`` (empty when it does not exist)."""
    fs, path = filesystem(url)
    if not fs.exists(path):
        return []
    return sorted(_unstrip(url, fs, p) for p in fs.ls(path, detail=False))


def glob(pattern: str) -> list[str]:
    fs, path = filesystem(pattern)
    return sorted(_unstrip(pattern, fs, p) for p in fs.glob(path))


def _unstrip(reference_url: str, fs: fsspec.AbstractFileSystem, path: str) -> str:
    """Turn a filesystem path back into a URL with the protocol of ``reference_url``."""
    if "://" in reference_url:
        return fs.unstrip_protocol(path)
    return path


def open_read(url: str, mode: str = "rb"):
    fs, path = filesystem(url)
    return fs.open(path, mode)


def read_bytes(url: str) -> bytes:
    fs, path = filesystem(url)
    return fs.cat_file(path)


def read_text(url: str) -> str:
    return read_bytes(url).decode("utf-8")


def read_json(url: str) -> Any:
    return json.loads(read_bytes(url))


def write_bytes(url: str, data: bytes) -> None:
    """Write ``data`` to ``url`` atomically: readers see the old content or the new, never a part."""
    fs, path = filesystem(url)
    if is_local(url):
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            # mkstemp creates 0600 files; published outputs get the permissions a plain open() would.
            os.chmod(tmp, PUBLISHED_FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    else:
        fs.pipe_file(path, data)


def write_text(url: str, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))


def write_json(url: str, value: Any, indent: int | None = 2) -> None:
    write_bytes(url, (json.dumps(value, indent=indent, sort_keys=False) + "\n").encode("utf-8"))


def write_jsonl(url: str, rows: list[Any]) -> None:
    write_bytes(url, "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))


def read_jsonl(url: str) -> list[Any]:
    return [json.loads(line) for line in read_text(url).splitlines() if line.strip()]


def remove(url: str, recursive: bool = False) -> None:
    fs, path = filesystem(url)
    if fs.exists(path):
        fs.rm(path, recursive=recursive)


def makedirs(url: str) -> None:
    fs, path = filesystem(url)
    fs.makedirs(path, exist_ok=True)


@contextlib.contextmanager
def local_copy(url: str) -> Iterator[str]:
    """Yield a local file path holding the content of ``url`` (the file itself when already local)."""
    if is_local(url):
        yield local_path(url)
        return
    fs, path = filesystem(url)
    suffix = os.path.splitext(path)[1]
    with tempfile.TemporaryDirectory(prefix="automl-video-") as tmp:
        target = os.path.join(tmp, "file" + suffix)
        fs.get_file(path, target)
        yield target


@contextlib.contextmanager
def local_dir(url: str) -> Iterator[str]:
    """Yield a local folder holding a copy of the folder at ``url`` (the folder itself when local)."""
    if is_local(url):
        yield local_path(url)
        return
    with tempfile.TemporaryDirectory(prefix="automl-video-") as tmp:
        download_dir(url, tmp)
        yield tmp


def download_dir(url: str, local: str) -> None:
    """Copy the folder at ``url`` into the local folder ``local`` (fsspec's recursive ``get``)."""
    fs, path = filesystem(url)
    os.makedirs(local, exist_ok=True)
    if fs.find(path):  # get() of a missing or empty folder is an error on some stores, nothing on others
        fs.get(path.rstrip("/") + "/", local.rstrip(os.sep) + os.sep, recursive=True)


def upload_dir(local: str, url: str) -> None:
    """Copy a local folder to ``url``: local targets file by file, each written atomically; object
    stores with fsspec's recursive ``put`` (each object appears whole when its upload completes).

    Callers that publish a folder as one unit write a marker file last (see :func:`publish_dir`).
    """
    if not is_local(url):
        fs, path = filesystem(url)
        if any(files for _, _, files in os.walk(local)):
            fs.put(local.rstrip(os.sep) + os.sep, path.rstrip("/") + "/", recursive=True)
        return
    for root, _, files in os.walk(local):
        for name in sorted(files):
            source = os.path.join(root, name)
            relative = os.path.relpath(source, local).replace(os.sep, "/")
            with open(source, "rb") as f:
                write_bytes(join(url, relative), f.read())


def publish_dir(local: str, url: str) -> None:
    """Publish a locally built folder at ``url`` so readers never see a partial one.

    Local targets are swapped in with a rename; object stores get every file first and the
    ``_COMPLETE`` marker last, which readers check with :func:`is_published`.
    """
    marker = os.path.join(local, COMPLETE_MARKER)
    with open(marker, "w") as f:
        f.write(uuid.uuid4().hex + "\n")
    if is_local(url):
        target = local_path(url)
        parent = os.path.dirname(os.path.abspath(target))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
        shutil.rmtree(staging)
        shutil.copytree(local, staging)
        if os.path.exists(target):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            shutil.rmtree(old)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
        return
    os.remove(marker)
    remove(join(url, COMPLETE_MARKER))
    upload_dir(local, url)
    write_text(join(url, COMPLETE_MARKER), uuid.uuid4().hex + "\n")


COMPLETE_MARKER = "_COMPLETE"


def is_published(url: str) -> bool:
    return exists(join(url, COMPLETE_MARKER))
