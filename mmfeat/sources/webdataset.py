"""``WebDatasetSource``: samples from WebDataset tar shards, grouped by key the way ``webdataset`` groups them.

Shards are local paths, globs, brace patterns (``data-{000..009}.tar``) or fsspec
URIs; ``.tar.gz``/``.tgz`` (or any gzip-compressed tar) are read as streams. A
sample is the run of consecutive members sharing a key (the member path up to
the first dot of its file name); its id is that key. ``column`` names the member
extension to encode (``jpg``, or alternatives ``jpg;png;jpeg``); text members are decoded strictly as
``input.encoding`` (UTF-8). Only that
member is read; other members, pickles (``.pyd``, ``.pickle``) above all, are
never decoded. Every problem is an error row, never a silent loss:

- member names that are absolute or contain ``..``: error row ``<shard>:<name>``;
- symlinks, hardlinks, devices and FIFOs: error row ``<shard>:<name>``, never followed;
- a member larger than ``max_bytes``: refused from its header size, unread;
- a tar truncated or corrupt anywhere (header, data, gzip stream, missing end
  marker): the samples before it are kept and one shard-level error row
  ``<shard>:<byte>`` says "truncated or corrupt after N samples at byte B".

Refs are the byte offset of the encoded member's header (uncompressed tars);
gzip-compressed shards cannot be re-read cheaply, so their refs are None.
"""
import gzip
import re
import zlib
from typing import Iterator

import fsspec
from braceexpand import braceexpand

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, Record
from mmfeat.sources import SOURCES
from mmfeat.sources.base import Source
from mmfeat.sources.rows import encodable, id_problem
from mmfeat.sources.tar_walk import TarDamage, TarWalker

PICKLE_EXTENSIONS = {"pyd", "pickle", "pkl"}
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_KEY = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # webdataset.tariterators.base_plus_ext


def is_tar(pattern: str) -> bool:
    """Whether a path or pattern names tar shards."""
    return pattern.lower().endswith(TAR_SUFFIXES)


def unsafe_name(name: str) -> bool:
    """A member name that would escape the dataset: absolute, a drive path, or with ``..``."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) is not None or ".." in parts


class _Sample:
    """The members of one sample seen so far: ext -> (header offset, bytes | None, size)."""

    def __init__(self, key: str):
        self.key, self.members = key, {}


@SOURCES.register("webdataset")
class WebDatasetSource(Source):
    """Yields one Record per sample key: the bytes of its ``column`` member (text decoded as UTF-8)."""

    def __init__(self, patterns, *, column: str, id_column: str = "__key__", modality: str = "image",
                 max_bytes: int = DEFAULT_MAX_BYTES, encoding: str = "utf-8"):
        self.patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self.extensions = [e.strip().lower().lstrip(".") for e in column.split(";") if e.strip()]
        self.as_text = modality == "text"
        self.max_bytes, self.encoding = max_bytes, encoding
        if id_column not in ("__key__", "id"):
            raise MmfeatError(f"WebDataset samples are identified by their key; id_column {id_column!r} "
                              f"is not supported (use __key__)")
        refused = PICKLE_EXTENSIONS.intersection(e.rsplit(".", 1)[-1] for e in self.extensions)
        if refused:
            raise MmfeatError(f"input.column {column!r}: pickled members ({', '.join(sorted(refused))}) are never "
                              f"decoded; store the value as .npy, .json, .txt or media bytes")

    def list_shards(self) -> list[str]:
        shards = []
        for pattern in self.patterns:
            for expanded in braceexpand(pattern):
                fs, path = fsspec.core.url_to_fs(expanded)
                matches = fs.glob(path) if fsspec.core.has_magic(path) else [path] if fs.isfile(path) else []
                if not matches:
                    raise MmfeatError(f"{expanded}: no tar shard matches (from --input {pattern!r})")
                shards.extend(fs.unstrip_protocol(m) if "://" in expanded else m for m in matches)
        return sorted(set(shards))

    def read_shard(self, shard: str) -> Iterator[Record | ErrorRow]:
        yield from self._walk(str(shard), None)

    def fetch(self, shard, refs) -> Iterator[Record | ErrorRow]:
        refs = list(refs)
        found = {}
        for row in self._walk(str(shard), set(refs)):
            if isinstance(row, Record):
                found[row.ref] = row
        for ref in refs:
            yield found.get(ref) or ErrorRow(f"{shard}:{ref}", "read", f"no member at byte {ref} any more; rerun",
                                             str(shard), 0)

    def _walk(self, shard: str, wanted: set | None):
        """Samples of ``shard``; with ``wanted`` (header offsets), only the samples whose member is wanted."""
        with fsspec.open(shard, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            f = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
            walker = TarWalker(f, seekable=not gzipped and raw.seekable())
            count = [0]
            try:
                yield from self._samples(walker, shard, wanted, not gzipped, count)
            except (TarDamage, OSError, EOFError, zlib.error) as exc:
                if wanted is not None:
                    return  # fetch answers the refs it could not reach with error rows
                offset = getattr(exc, "offset", walker.pos)
                detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
                where = "of the decompressed stream " if gzipped else ""
                yield ErrorRow(f"{shard}:{offset}", "read", f"tar is truncated or corrupt after {count[0]} samples "
                               f"at byte {offset} {where}({detail}); later samples are lost", shard, count[0] + 1)

    def _samples(self, walker, shard, wanted, seekable, count):
        sample = None
        try:
            for member in walker:
                name = member.name
                if member.kind == "dir":
                    continue
                if member.kind != "file" or unsafe_name(name):
                    if wanted is None:  # not part of any sample: identified by the shard and the member name
                        yield self._refused(member, shard, count[0] + 1)
                    continue
                base = name.rsplit("/", 1)[-1]
                if base.startswith("__") or not (match := _KEY.match(name)):
                    continue  # webdataset metadata members and names without an extension
                key, ext = match.group(1), match.group(2).lower()
                if sample is None or key != sample.key:
                    if sample is not None:
                        count[0] += 1
                        yield from self._emit(sample, shard, count[0], seekable, wanted)
                    sample = _Sample(key)
                if ext in self.extensions and ext not in sample.members:
                    read = (wanted is None and member.size <= self.max_bytes) or (wanted and member.offset in wanted)
                    sample.members[ext] = (member.offset, walker.read(member) if read else None, member.size)
                else:
                    sample.members.setdefault(ext, None)  # seen, not read
        except (TarDamage, OSError, EOFError, zlib.error):
            # The sample being read when the damage came is kept if its member was read whole.
            if sample is not None and any(m and m[1] is not None for m in sample.members.values()):
                count[0] += 1
                yield from self._emit(sample, shard, count[0], seekable, wanted)
            raise
        if sample is not None:
            count[0] += 1
            yield from self._emit(sample, shard, count[0], seekable, wanted)

    @staticmethod
    def _refused(member, shard, line):
        """The error row of a member that is never read: a link, a special file or an unsafe name."""
        name = member.name
        if member.kind == "file":
            reason = f"unsafe member name {name!r} (absolute or '..')"
        else:
            what = {"symlink": "symlink", "hardlink": "hardlink"}.get(member.kind, "special file (device or FIFO)")
            target = f" -> {member.linkname!r}" if member.linkname else ""
            reason = f"{what} member {name!r}{target} is not followed"
        return ErrorRow(encodable(f"{shard}:{name}"), "read", reason, shard, line)

    def _emit(self, sample, shard, index, seekable, wanted):
        item = self._record(sample, shard, index, seekable)
        if wanted is None or (isinstance(item, Record) and item.ref in wanted):
            yield item

    def _record(self, sample, shard, index, seekable):
        key = sample.key
        problem = id_problem(key)
        if problem:
            return ErrorRow(f"{shard}:{index}", "read", f"sample key: {problem}", shard, index)
        for ext in self.extensions:
            member = sample.members.get(ext)
            if member is None:
                continue
            offset, data, size = member
            if data is None:
                if size > self.max_bytes:
                    return ErrorRow(key, "read", f"{key}.{ext} is {size} bytes, more than max_bytes="
                                                 f"{self.max_bytes} (refused from its header, not read)", shard, index)
                continue  # fetch: not a wanted member
            ref = offset if seekable else None
            if not self.as_text:
                return Record(key, data, shard, index, ref)
            try:
                return Record(key, data.decode(self.encoding), shard, index, ref)
            except UnicodeDecodeError as exc:
                return ErrorRow(key, "read", f"{key}.{ext} is not valid {self.encoding}: {exc}", shard, index)
        has = ", ".join(sorted(sample.members)) or "nothing"
        return ErrorRow(key, "read", f"sample has no .{' / .'.join(self.extensions)} member (has: {has})",
                        shard, index)
