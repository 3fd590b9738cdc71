"""``FolderSource``: media files straight from a directory or a glob, no manifest needed.

``--input photos/`` reads every file under ``photos`` whose extension suits the
modality (or those listed in ``input.column`` as ``jpg;png``); ``--input
'photos/**/*.jpg'`` reads the files the glob matches. The glob's root is the
part before its first wildcard. Ids, chosen by ``input.id_column``:

- ``__key__`` (default): the path relative to the root up to the first dot of
  the file name (``cats/tom.jpg`` -> ``cats/tom``): the WebDataset key, so a
  tar of the folder (``cd photos && tar cf ../photos.tar *``) gives the same ids;
- ``__path__``: the relative path with its extension (``cats/tom.jpg``);
- ``__stem__``: the file name without directories or extension (``tom``).

Shards are runs of ``FILES_PER_SHARD`` files; a Record's value is the file's
path, its source is that path too, and its ref is its index in the shard.
"""
import posixpath
import re
from dataclasses import dataclass
from typing import Iterator

import fsspec

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, Record
from mmfeat.sources import SOURCES
from mmfeat.sources.base import Source
from mmfeat.sources.rows import encodable, id_problem

FILES_PER_SHARD = 1000
ID_STYLES = ("__key__", "__path__", "__stem__")
MEDIA_EXTENSIONS = {
    "image": ("jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp"),
    "audio": ("wav", "flac", "ogg", "oga", "opus", "mp3"),
}
_KEY = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # as WebDataset keys (mmfeat.sources.webdataset)


@dataclass(frozen=True)
class FolderShard:
    """Files ``paths`` (relative to ``root``) read by one task."""

    root: str
    paths: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.root} ({len(self.paths)} files from {self.paths[0] if self.paths else '-'})"


def glob_root(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard component."""
    parts = pattern.rstrip("/").split("/")
    for i, part in enumerate(parts):
        if fsspec.core.has_magic(part):
            return "/".join(parts[:i]) or "."
    return pattern.rstrip("/") or "/"


def file_id(relative: str, style: str) -> str:
    """The id of the file at ``relative`` (posix path under the root) in ``style``."""
    if style == "__path__":
        return relative
    match = _KEY.match(relative)
    key = match.group(1) if match else relative
    return key.rsplit("/", 1)[-1] if style == "__stem__" else key


@SOURCES.register("folder")
class FolderSource(Source):
    """Reads media files from directories or globs; one Record per file."""

    def __init__(self, patterns, *, column: str, id_column: str = "__key__", modality: str = "image"):
        self.patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self.id_style = "__key__" if id_column in ("id", "__key__") else id_column
        if self.id_style not in ID_STYLES:
            raise MmfeatError(f"folder inputs: id_column {id_column!r} must be one of {', '.join(ID_STYLES)}")
        listed = [e.strip().lower().lstrip(".") for e in column.split(";") if e.strip()]
        known = set(MEDIA_EXTENSIONS.get(modality, ()))
        self.extensions = tuple(listed) if listed and set(listed) <= known | {"*"} else tuple(sorted(known))

    def list_shards(self) -> list[FolderShard]:
        shards = []
        for pattern in self.patterns:
            fs, path = fsspec.core.url_to_fs(pattern)
            if fsspec.core.has_magic(path):
                root, files = glob_root(path), [p for p in fs.glob(path) if fs.isfile(p)]
            elif fs.isdir(path):
                root = path.rstrip("/")
                files = [p for p in fs.find(path) if "*" in self.extensions or p.lower().endswith(
                    tuple("." + e for e in self.extensions))]
            else:
                raise MmfeatError(f"{pattern}: neither a directory nor a glob matching files")
            if not files:
                raise MmfeatError(f"{pattern}: no {'/'.join(self.extensions)} files found")
            relative = sorted(posixpath.relpath(p, root) for p in files)
            root_uri = fs.unstrip_protocol(root) if "://" in pattern else root
            shards.extend(FolderShard(root_uri, tuple(relative[i:i + FILES_PER_SHARD]))
                          for i in range(0, len(relative), FILES_PER_SHARD))
        return shards

    def _item(self, shard: FolderShard, index: int) -> Record | ErrorRow:
        relative = shard.paths[index]
        path = posixpath.join(shard.root, relative)
        id_ = file_id(relative, self.id_style)
        problem = id_problem(id_)
        if problem:
            return ErrorRow(encodable(path), "read", f"file name gives a bad id: {problem}", encodable(path), 1)
        return Record(id_, path, path, 1, index)

    def read_shard(self, shard: FolderShard) -> Iterator[Record | ErrorRow]:
        for index in range(len(shard.paths)):
            yield self._item(shard, index)

    def fetch(self, shard: FolderShard, refs) -> Iterator[Record | ErrorRow]:
        for ref in refs:
            yield self._item(shard, ref)
