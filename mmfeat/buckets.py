"""Stable id → bucket hashing shared by every feature set of a store.

Feature sets of different modalities use the same function and bucket count, so
they can be joined bucket by bucket without a global shuffle.
"""
import hashlib


def id_digest(id_: str) -> int:
    """The 64-bit blake2b digest of an id's UTF-8 bytes: what places it in a bucket (and a work unit's slot).

    blake2b (not Python's ``hash``) so the result is the same in every process,
    machine and Python version. Lone surrogates are hashed as they are
    (``surrogatepass``) so a malformed id can still be routed to its error row.
    """
    return int.from_bytes(hashlib.blake2b(id_.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def bucket_of(id_: str, n_buckets: int) -> int:
    """Return the bucket of ``id_``: its ``id_digest`` modulo ``n_buckets``."""
    return id_digest(id_) % n_buckets


def content_key(value) -> str:
    """Return a hex digest identifying an input's content, used for dedup.

    Text is hashed as UTF-8, bytes as they are; anything else by its ``repr``.
    """
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        data = repr(value).encode("utf-8")
    return hashlib.blake2b(data, digest_size=16).hexdigest()
