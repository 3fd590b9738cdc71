"""Store roots on object storage: a pathlib-like path over an fsspec filesystem.

The store code is written against ``pathlib.Path``. An ``ObjectPath`` offers
the same small surface (``/``, ``name``, ``parent``, ``exists``, ``iterdir``,
``glob``, ``read_bytes``, ``stat`` ...) over ``s3://``, ``gs://`` or ``az://``,
plus the three operations the commit protocol needs, each correct on an
object store:

- ``create_exclusive``: a conditional PUT (S3 ``If-None-Match: *``, GCS
  ``ifGenerationMatch=0``, Azure ``If-None-Match: *``), so exactly one of
  several racing writers creates a log version;
- ``move_to``: a server-side copy, then a delete of the source. The target
  exists whole before the source goes, so a reader looking in both places
  always finds the object (see ``mmfeat.store.lifecycle``);
- ``write_bytes``: one PUT, which an object store makes visible whole or not at all.

Only backends whose conditional write is known to be atomic are accepted;
others are refused with the reason, never silently given a weaker protocol.
Listings are never cached: a log replay must see versions other writers just
created.
"""
from __future__ import annotations

import datetime
import fnmatch
import logging
import posixpath
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from types import SimpleNamespace
from urllib.parse import urlsplit

from mmfeat.errors import MissingDependencyError, StoreError

log = logging.getLogger(__name__)

# protocol -> the fsspec package that serves it. Each honours ``pipe_file(..., mode="create")`` with the
# backend's conditional write and raises FileExistsError when the object exists (s3fs >= 2024.10,
# gcsfs: ifGenerationMatch=0, adlfs: If-None-Match: *).
CONDITIONAL_WRITES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
                      "abfss": "adlfs"}
EXTRAS = {"s3fs": "s3", "gcsfs": "gcs", "adlfs": "azure"}
_SINGLE_GET = {"s3": {"max_concurrency": 1}, "s3a": {"max_concurrency": 1}}
_PLAIN_COPY = {"s3", "s3a"}  # protocols whose server-side copy is asked for without a size check
_MTIME_KEYS = ("LastModified", "mtime", "updated", "last_modified", "creation_time", "created")


def is_url(root) -> bool:
    """Whether ``root`` names an object-store location rather than a local path."""
    text = str(root)
    return "://" in text and not text.startswith("file://")


def open_url(url: str, storage_options: dict | None = None) -> "ObjectPath":
    """The ObjectPath of a store URL, refusing backends without atomic conditional writes.

    Credentials come from ``storage_options`` or the backend's standard
    environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_*``);
    a URL carrying them (``s3://KEY:SECRET@bucket``) is refused, because URLs
    end up in logs and reports.
    """
    parts = urlsplit(url)
    protocol = parts.scheme.lower()
    if "@" in parts.netloc:
        raise StoreError(f"{protocol}://…@{parts.netloc.rsplit('@', 1)[1]}{parts.path}: credentials in the store "
                         f"URL are refused (URLs are logged); pass them with --storage-option or the "
                         f"backend's environment variables")
    if protocol not in CONDITIONAL_WRITES:
        raise StoreError(
            f"{url}: mmfeat cannot keep a store on {protocol}://: its commit log needs atomic conditional "
            f"writes, which mmfeat supports on {', '.join(sorted({p + '://' for p in ('s3', 'gs', 'az')}))}. "
            f"Use one of those, or a local or NFS path")
    package = CONDITIONAL_WRITES[protocol]
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url, use_listings_cache=False, **(storage_options or {}))
    except ImportError as exc:
        raise MissingDependencyError(f"{url}: {protocol}:// stores need {package}: "
                                     f"pip install 'mmfeat[{EXTRAS[package]}]' ({exc})") from None
    except TypeError as exc:
        raise StoreError(f"{url}: a storage option is not accepted by {package}: {exc}") from None
    return ObjectPath(fs, path.rstrip("/"), protocol)


class ObjectPath:
    """A path on an fsspec object store, with the pathlib subset the store uses."""

    __slots__ = ("fs", "path", "protocol", "_kind")

    def __init__(self, fs, path: str, protocol: str, kind: str | None = None):
        self.fs, self.path, self.protocol, self._kind = fs, path, protocol, kind

    # -- pure path operations --------------------------------------------------------------
    def __truediv__(self, name) -> ObjectPath:
        return ObjectPath(self.fs, posixpath.join(self.path, str(name)), self.protocol)

    def __str__(self):
        return f"{self.protocol}://{self.path}"

    def __repr__(self):
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other):
        return isinstance(other, ObjectPath) and (self.protocol, self.path) == (other.protocol, other.path)

    def __lt__(self, other):
        return self.path < other.path

    def __hash__(self):
        return hash((self.protocol, self.path))

    def __reduce__(self):  # travels to Beam workers with its filesystem (fsspec filesystems pickle)
        return ObjectPath, (self.fs, self.path, self.protocol)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def parent(self) -> ObjectPath:
        return ObjectPath(self.fs, posixpath.dirname(self.path), self.protocol)

    @property
    def parents(self) -> list[ObjectPath]:
        out, path = [], self
        while "/" in path.path:
            path = path.parent
            out.append(path)
        return out

    def with_name(self, name: str) -> ObjectPath:
        return self.parent / name

    def relative_to(self, other: ObjectPath) -> PurePosixPath:
        if not self.path.startswith(other.path.rstrip("/") + "/"):
            raise ValueError(f"{self} is not under {other}")
        return PurePosixPath(self.path[len(other.path.rstrip('/')) + 1:])

    def as_posix(self) -> str:
        return str(self)

    def expanduser(self) -> ObjectPath:
        return self

    # -- queries ------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.fs.exists(self.path)

    def is_file(self) -> bool:
        return self._kind == "file" if self._kind else self.fs.isfile(self.path)

    def is_dir(self) -> bool:
        return self._kind == "directory" if self._kind else self.fs.isdir(self.path)

    def iterdir(self):
        """Children of a directory (prefix); FileNotFoundError if there are none, like an absent directory."""
        entries = self.fs.ls(self.path, detail=True)
        return [ObjectPath(self.fs, e["name"].rstrip("/"), self.protocol, e.get("type")) for e in entries
                if e["name"].rstrip("/") != self.path]

    def glob(self, pattern: str):
        """Matches of a relative glob pattern (``*.json``, ``*/feature_set.json``), via one listing per level."""
        level = [self]
        for part in pattern.split("/"):
            found = []
            for directory in level:
                try:
                    found += [c for c in directory.iterdir() if fnmatch.fnmatchcase(c.name, part)]
                except (FileNotFoundError, NotADirectoryError):
                    continue
            level = found
        return iter(level)

    def stat(self):
        """``st_size`` and ``st_mtime`` (the object's last-modified time, seconds since the epoch)."""
        info = self.fs.info(self.path)
        return SimpleNamespace(st_size=int(info.get("size") or 0), st_mtime=_mtime(info))

    # -- reading and writing ------------------------------------------------------------------
    def open(self, mode: str = "rb", **kwargs):
        return self.fs.open(self.path, mode, **kwargs)

    def read_bytes(self) -> bytes:
        """One GET (s3fs would otherwise ask for the size first, a second request per read)."""
        return self.fs.cat_file(self.path, **_SINGLE_GET.get(self.protocol, {}))

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        """Create or replace the object in one PUT."""
        self.fs.pipe_file(self.path, bytes(data))

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def create_exclusive(self, data: bytes) -> bool:
        """Create the object only if it does not exist (conditional PUT); False if it already existed."""
        try:
            self.fs.pipe_file(self.path, bytes(data), mode="create")
            return True
        except FileExistsError:
            return False

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Object stores have no directories: a prefix exists once an object is under it."""

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.rm_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def move_to(self, target: ObjectPath) -> None:
        """Copy to ``target`` server-side, then delete this object (or prefix); FileNotFoundError if absent.

        The target exists before the source is deleted, so at every moment one
        of the two can be read. A source deleted meanwhile by a concurrent
        mover (same content) is not an error.
        """
        recursive = False
        try:
            self._copy_object(target)
        except FileNotFoundError:
            if not self.fs.isdir(self.path):
                raise FileNotFoundError(str(self)) from None
            recursive = True
            self.fs.copy(self.path, target.path, recursive=True)
        try:
            if recursive:
                self.fs.rm(self.path, recursive=True)
            else:
                self.fs.rm_file(self.path)
        except FileNotFoundError:
            pass  # a concurrent mover deleted it after copying the same object

    def _copy_object(self, target: ObjectPath) -> None:
        """One server-side copy of this object; FileNotFoundError if it is absent.

        On S3 the copy is asked for directly: s3fs's ``cp_file`` first asks for the
        size (a HEAD, a request more per part published) to choose between a plain
        copy and a multipart one, which only objects over 5 GB need. Such an object
        fails the plain copy and is copied by ``cp_file`` instead.
        """
        if self.protocol in _PLAIN_COPY:
            source, (bucket, key, _) = self.fs.split_path(self.path), self.fs.split_path(target.path)
            try:
                self.fs.call_s3("copy_object", Bucket=bucket, Key=key,
                                CopySource={"Bucket": source[0], "Key": source[1]})
                return
            except OSError as exc:
                if isinstance(exc, (FileNotFoundError, PermissionError)):
                    raise
                log.debug("plain copy of %s refused (%s); copying it with s3fs's size check", self, exc)
        self.fs.cp_file(self.path, target.path)


def read_many(paths) -> list[bytes]:
    """The bytes of every path, in order. Objects are fetched by a few threads at once (one GET each),
    so reading a run's hundreds of small stats files costs a few round trips' time, not hundreds."""
    paths = list(paths)
    if not any(isinstance(p, ObjectPath) for p in paths):
        return [p.read_bytes() for p in paths]
    with ThreadPoolExecutor(8, thread_name_prefix="mmfeat-read") as pool:
        return list(pool.map(lambda p: p.read_bytes(), paths))


def _mtime(info: dict) -> float:
    for key in _MTIME_KEYS:
        value = info.get(key)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise StoreError(f"the object store reported no modification time for an object ({sorted(info)})")


def as_path(path):
    """A store path as given (a Path or an ObjectPath), or a local Path from a string."""
    from pathlib import Path

    return path if isinstance(path, (Path, ObjectPath)) else Path(path)
