"""Part checksums: xxh3-128 for new commits, sha256 still read.

A log entry carries its checksum under the algorithm's name (``"xxh3_128"`` or
``"sha256"``), so entries written by earlier versions keep verifying. xxh3 is
not a cryptographic hash, and need not be: it guards against damage (flipped
bits, truncation, a copied-over file), and any change to a part changes its
128-bit digest with overwhelming probability, while hashing at memory speed.
sha256 cost about two thirds of a full read; xxh3 costs a few percent
(``benchmarks/store_checksums.py``).
"""
import hashlib

from mmfeat.errors import MissingDependencyError
from mmfeat.store.objects import as_path

ALGORITHMS = ("xxh3_128", "sha256")
_CHUNK = 1 << 22


def default_algorithm() -> str:
    """The algorithm new commits use: xxh3-128 when ``xxhash`` is installed, else sha256."""
    try:
        import xxhash  # noqa: F401
    except ImportError:
        return "sha256"
    return "xxh3_128"


def _hasher(algorithm: str):
    if algorithm == "sha256":
        return hashlib.sha256()
    try:
        import xxhash
    except ImportError:
        raise MissingDependencyError("this store's parts carry xxh3 checksums: pip install 'xxhash>=3'") from None
    return xxhash.xxh3_128()


def algorithm_of(entry: dict) -> str:
    """The checksum algorithm a log entry was written with."""
    for algorithm in ALGORITHMS:
        if algorithm in entry:
            return algorithm
    raise KeyError(f"log entry {entry.get('path')!r} carries no checksum ({' or '.join(ALGORITHMS)})")


def digest_bytes(data, algorithm: str) -> str:
    """Hex digest of bytes already in memory."""
    hasher = _hasher(algorithm)
    hasher.update(data)
    return hasher.hexdigest()


def digest_file(path, algorithm: str) -> str:
    """Hex digest of a file, read in large chunks."""
    hasher = _hasher(algorithm)
    with as_path(path).open("rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def matches(entry: dict, *, data=None, path=None) -> bool:
    """Whether ``data`` (or the file at ``path``) has the checksum ``entry`` records."""
    algorithm = algorithm_of(entry)
    digest = digest_bytes(data, algorithm) if data is not None else digest_file(path, algorithm)
    return digest == entry[algorithm]
