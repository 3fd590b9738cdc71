"""``WebDatasetSource``: samples from WebDataset tar shards, grouped by key the way ``webdataset`` groups them.

Shards are local paths, globs, brace patterns (``data-{000..009}.tar``) or fsspec
URIs; ``.tar.gz``/``.tgz`` are read as streams too. A sample is the run of
consecutive members sharing a key (the member path up to the first dot of its
file name); its id is that key. ``column`` names the member extension to encode
(``jpg``, or alternatives ``jpg;png;jpeg``). Only that member is read; other
members, pickles (``.pyd``, ``.pickle``) above all, are never decoded. Member
names that are absolute or contain ``..`` are refused as error rows.
"""
import re
import tarfile
from typing import Iterator

import fsspec
from braceexpand import braceexpand

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, Record, locator
from mmfeat.sources import SOURCES
from mmfeat.sources.base import Source

PICKLE_EXTENSIONS = {"pyd", "pickle", "pkl"}
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_KEY = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # webdataset.tariterators.base_plus_ext


def is_tar(pattern: str) -> bool:
    """Whether a path or pattern names tar shards."""
    return pattern.lower().endswith(TAR_SUFFIXES)


def unsafe_name(name: str) -> bool:
    """A member name that would escape the dataset: absolute, a drive path, or with ``..``."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) is not None or ".." in parts


@SOURCES.register("webdataset")
class WebDatasetSource(Source):
    """Yields one Record per sample key: the bytes of its ``column`` member (text decoded as UTF-8)."""

    def __init__(self, patterns, *, column: str, id_column: str = "__key__", modality: str = "image"):
        self.patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self.extensions = [e.strip().lower().lstrip(".") for e in column.split(";") if e.strip()]
        self.as_text = modality == "text"
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
        with fsspec.open(shard, "rb") as raw:
            try:
                tar = tarfile.open(fileobj=raw, mode="r|*")
            except (tarfile.TarError, EOFError, OSError) as exc:
                yield ErrorRow(locator(shard, 1), "read", f"not a readable tar file: {exc}", shard, 1)
                return
            with tar:
                yield from self._samples(tar, shard)

    def _samples(self, tar, shard):
        key, members, index = None, {}, 0
        try:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name
                if unsafe_name(name):  # not part of any sample: identified by the shard and the member name
                    yield ErrorRow(f"{shard}:{name}", "read", f"unsafe member name {name!r} (absolute or '..')",
                                   shard, index + 1)
                    continue
                base = name.rsplit("/", 1)[-1]
                if base.startswith("__") or not (match := _KEY.match(name)):
                    continue  # webdataset metadata members and names without an extension
                member_key, ext = match.group(1), match.group(2).lower()
                if member_key != key:
                    if key is not None:
                        index += 1
                        yield self._record(key, members, shard, index)
                    key, members = member_key, {}
                if ext in self.extensions and ext not in members:
                    members[ext] = tar.extractfile(member).read()
                else:
                    members.setdefault(ext, None)  # seen, not read
        except (tarfile.TarError, EOFError, OSError) as exc:
            # Nothing after a corrupt header can be located; every sample before it was yielded.
            index += 1
            reason = f"tar is corrupt or truncated after {index - 1} samples: {exc}"
            if key is None or not any(members.get(e) is not None for e in self.extensions):
                yield ErrorRow(key or locator(shard, index), "read", reason, shard, index)
                return
        if key is not None:
            index += 1
            yield self._record(key, members, shard, index)

    def _record(self, key, members, shard, index):
        for ext in self.extensions:
            data = members.get(ext)
            if data is None:
                continue
            if not self.as_text:
                return Record(key, data, shard, index)
            try:
                return Record(key, data.decode("utf-8"), shard, index)
            except UnicodeDecodeError as exc:
                return ErrorRow(key, "read", f"{key}.{ext} is not UTF-8: {exc}", shard, index)
        has = ", ".join(sorted(members)) or "nothing"
        return ErrorRow(key, "read", f"sample has no .{' / .'.join(self.extensions)} member (has: {has})",
                        shard, index)
