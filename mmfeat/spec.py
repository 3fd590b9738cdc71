"""Feature-set definitions: frozen, validated specs loaded from ``features/*.yaml``.

A spec says what to compute (modality, input column, encoder and its parameters)
and how to batch it. Its fingerprint hashes everything that changes the stored
vectors and nothing that does not (batching, worker count), so the store can
tell "already computed" from "computed differently".
"""
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from mmfeat.dataclass_loader import build, read_yaml
from mmfeat.errors import SpecError

FINGERPRINT_FORMAT = 1
MAX_DESCRIPTION_CHARS = 4096
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class InputSpec:
    """Which column holds the value to encode and which the id, and how inputs are read.

    ``source``: ``manifest`` (CSV/JSONL/Parquet), ``webdataset`` (tar shards;
    ``column`` is the member extension, the id is the sample key) or ``auto``
    (tar shards if every input ends in .tar/.tar.gz/.tgz). ``encoding`` decodes
    CSV/JSONL manifests (strictly: a bad row is an error row). ``shard_bytes``
    is the size of one read task's piece of a large manifest.
    ``timestamp_column`` names a manifest column holding each row's event time
    (ISO-8601, naive = UTC; epoch seconds; Parquet timestamps), stored as the
    row's ``event_timestamp``; unset, rows get the commit time.
    """

    column: str
    id_column: str = "id"
    source: str = "auto"
    encoding: str = "utf-8"
    shard_bytes: int = 64 * 1024 * 1024
    timestamp_column: str | None = None

    def __post_init__(self):
        import codecs

        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"encoding: unknown encoding {self.encoding!r}") from None
        if self.timestamp_column is not None and not self.timestamp_column.strip():
            raise ValueError(f"timestamp_column must be a column name, got {self.timestamp_column!r}")
        if not 1 <= self.shard_bytes <= 2 ** 31:
            raise ValueError(f"shard_bytes must be in 1..{2 ** 31}, got {self.shard_bytes}")


@dataclass(frozen=True)
class BatchingSpec:
    """Batching knobs. They change speed, never the vectors, so they are not fingerprinted.

    ``max_cost`` is the padded-size budget of one batch (tokens for text,
    samples for audio); ``max_batch_size`` caps the number of items in it.
    Media encoders decode ``window`` inputs ahead (default: four batches) on
    ``decode_workers`` threads while the model runs.
    """

    max_cost: int = 16384
    max_batch_size: int = 256
    window: int | None = None
    decode_workers: int = 2

    def __post_init__(self):
        if self.max_cost < 1 or self.max_batch_size < 1:
            raise ValueError("max_cost and max_batch_size must be >= 1")
        if (self.window is not None and self.window < 1) or self.decode_workers < 1:
            raise ValueError("window and decode_workers must be >= 1")


@dataclass(frozen=True)
class EncoderSpec:
    """The encoder's registered kind and its validated parameter dataclass."""

    kind: str
    params: Any


@dataclass(frozen=True)
class FeatureSpec:
    """A validated feature-set definition. Build one with ``load_spec`` or ``FeatureSpec.from_dict``."""

    name: str
    modality: str
    input: InputSpec
    encoder: EncoderSpec
    batching: BatchingSpec = BatchingSpec()
    description: str = ""
    origin: str = field(default="<dict>", compare=False)

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "<dict>", base_dir=None) -> "FeatureSpec":
        """Validate a parsed YAML mapping; every error names ``origin`` and the field.

        ``base_dir`` (the YAML file's directory) anchors a relative ``encoder.model``
        path, so a spec means the same thing whatever the current directory.
        """
        from mmfeat.encoders import ENCODERS

        if not isinstance(raw, dict):
            raise SpecError(f"{origin}: a feature definition must be a mapping, got {type(raw).__name__}")
        allowed = {"name", "modality", "input", "encoder", "batching", "description"}
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise SpecError(f"{origin}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        for key in ("name", "modality", "input", "encoder"):
            if key not in raw:
                raise SpecError(f"{origin}: required field {key!r} is missing")
        name = raw["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise SpecError(f"{origin}: name {name!r} must match {_NAME.pattern} (it becomes a directory name)")
        enc_raw = dict(raw["encoder"]) if isinstance(raw["encoder"], dict) else raw["encoder"]
        if not isinstance(enc_raw, dict) or "kind" not in enc_raw:
            raise SpecError(f"{origin}: encoder.kind is missing (known kinds: {', '.join(ENCODERS.names())})")
        kind = enc_raw.pop("kind")
        if base_dir is not None and isinstance(enc_raw.get("model"), str):
            enc_raw["model"] = model_relative_to(enc_raw["model"], base_dir, origin)
        description = raw.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
            raise SpecError(f"{origin}: description must be a string of at most {MAX_DESCRIPTION_CHARS} "
                            f"characters, got {type(description).__name__}"
                            f"{f' of {len(description)}' if isinstance(description, str) else ''}")
        try:
            encoder_cls = _encoder_for(kind, raw["modality"])
        except KeyError as exc:
            raise SpecError(f"{origin}: encoder.kind: {exc.args[0]}") from None
        if raw["modality"] != encoder_cls.modality:
            encodes = " or ".join(repr(m) for m in getattr(encoder_cls, "towers", None) or [encoder_cls.modality])
            raise SpecError(f"{origin}: modality {raw['modality']!r} does not match encoder {kind!r}, "
                            f"which encodes {encodes}")
        return cls(
            name=name,
            modality=raw["modality"],
            input=build(InputSpec, raw["input"], f"{origin}: input"),
            encoder=EncoderSpec(kind, build(encoder_cls.Params, enc_raw, f"{origin}: encoder")),
            batching=build(BatchingSpec, raw.get("batching"), f"{origin}: batching"),
            description=description,
            origin=origin,
        )

    def encoder_class(self):
        """The registered encoder class named by ``encoder.kind`` (for this modality, if it has towers)."""
        return _encoder_for(self.encoder.kind, self.modality)

    def create_encoder(self):
        """A new, not yet loaded, encoder instance for this spec."""
        return self.encoder_class()(self.encoder.params, self.batching)

    @property
    def keeps_chunks(self) -> bool:
        """Whether rows carry a ``chunks`` column (per-window vectors) besides ``embedding``."""
        return bool(getattr(self.encoder.params, "keep_chunks", False))

    def to_dict(self) -> dict:
        """A JSON-able mapping that ``from_dict`` turns back into an equal spec."""
        return {
            "name": self.name,
            "modality": self.modality,
            "description": self.description,
            "input": dataclasses.asdict(self.input),
            "encoder": {"kind": self.encoder.kind, **dataclasses.asdict(self.encoder.params)},
            "batching": dataclasses.asdict(self.batching),
        }

    def identity(self) -> dict:
        """What the output depends on besides the parameters: weights' digest, library majors."""
        ident = dict(self.encoder_class().identity(self.encoder.params))
        for lib in self.encoder_class().libraries:
            ident[f"{lib}_major"] = metadata.version(lib).split(".")[0]
        return ident

    def fingerprint(self, identity: dict | None = None) -> str:
        """sha256 over modality, encoder kind and output-changing parameters, and the model identity."""
        params = dataclasses.asdict(self.encoder.params)
        cls = self.encoder_class()
        for name in (*cls.locator_params, *cls.limit_params):
            params.pop(name, None)
        defaults = {f.name: f.default for f in dataclasses.fields(self.encoder.params)}
        for name in cls.added_params:
            if params.get(name) == defaults.get(name):
                params.pop(name, None)
        payload = {
            "format": FINGERPRINT_FORMAT,
            "modality": self.modality,
            "encoder": {"kind": self.encoder.kind, **params},
            "identity": identity if identity is not None else self.identity(),
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def model_relative_to(model: str, base_dir, origin: str) -> str:
    """``encoder.model`` from a YAML in ``base_dir``: ``./x``, ``../x`` and ``~/x`` are paths, and so is any
    relative name that exists under ``base_dir``; they become absolute. Anything else (``package:``, a hub
    id such as ``org/name``, an absolute path) is kept as written."""
    from pathlib import Path

    if model.startswith("package:") or "://" in model or Path(model).is_absolute():
        return model
    if model.startswith("~"):
        return str(Path(model).expanduser())
    candidate = Path(base_dir) / model
    if model.startswith(("./", "../", ".\\", "..\\")) and not candidate.exists():
        raise SpecError(f"{origin}: encoder.model: {model!r} does not exist (relative paths are resolved "
                        f"against the YAML file's directory, {base_dir})")
    return str(candidate.resolve()) if candidate.exists() else model


def _encoder_for(kind: str, modality: str) -> type:
    """The encoder class of ``kind``; a kind with one encoder per modality (``towers``, as ``hf-clip``
    has for text and images) gives the one for ``modality``."""
    from mmfeat.encoders import ENCODERS

    cls = ENCODERS.get(kind)
    return getattr(cls, "towers", None) and cls.towers.get(modality) or cls


def load_spec(path) -> FeatureSpec:
    """Read and validate a feature YAML. Errors name the file and the field."""
    from pathlib import Path

    return FeatureSpec.from_dict(read_yaml(path, "feature definition"), origin=str(path),
                                 base_dir=Path(path).parent)
