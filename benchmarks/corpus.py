"""Real English sentences available offline: Python's own documentation text.

pydoc's topic pages plus stdlib docstrings give a few thousand sentences of
mixed length (a handful of words up to ~100), which is what text manifests look like.
"""
import importlib
import inspect
import json
import re
from pathlib import Path

MODULES = ("os", "json", "collections", "re", "argparse", "typing", "asyncio", "pathlib", "itertools", "functools",
           "subprocess", "logging", "datetime", "decimal", "statistics", "random", "string", "textwrap", "csv",
           "sqlite3", "threading", "email", "http.client", "urllib.parse", "zipfile", "tarfile", "shutil")


def _texts():
    from pydoc_data.topics import topics

    yield from topics.values()
    for name in MODULES:
        module = importlib.import_module(name)
        yield inspect.getdoc(module) or ""
        for _, member in inspect.getmembers(module):
            if inspect.isfunction(member) or inspect.isclass(member):
                yield inspect.getdoc(member) or ""


def english_sentences(n: int) -> list[str]:
    """``n`` distinct sentences, deterministic, in a fixed shuffled order."""
    import random

    seen = {}
    for text in _texts():
        for raw in re.split(r"(?<=[.!?])\s+", text):
            s = re.sub(r"\s+", " ", raw).strip()
            if 20 <= len(s) <= 600 and s[0].isupper() and sum(c.isalpha() for c in s) / len(s) > 0.7:
                seen.setdefault(s, None)
    sentences = list(seen)
    if len(sentences) < n:
        raise SystemExit(f"only {len(sentences)} sentences available, asked for {n}")
    random.Random(0).shuffle(sentences)
    return sentences[:n]


def write_manifest(path: Path, texts: list[str]) -> Path:
    """Write ``texts`` as a JSONL manifest with ids ``t0``, ``t1``, …"""
    with open(path, "w") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"t{i}", "text": text}) + "\n")
    return path
