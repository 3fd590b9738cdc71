"""``hf-text``: any transformers text encoder (BERT, MiniLM, E5, …) with pooling.

Texts are tokenized once, in ``preprocess``; the token ids are what gets batched
(by token budget) and padded in ``encode``, so nothing is tokenized twice.
"""
from dataclasses import dataclass
from typing import Literal

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.base import Chunks, Encoder, Failed
from mmfeat.encoders.hf_common import HFModelMixin, HFModelParams
from mmfeat.media.chunks import windows


@dataclass(frozen=True, kw_only=True)
class HFTextParams(HFModelParams):
    """Parameters of ``hf-text``. All of them change the vectors, so all are fingerprinted.

    ``overflow`` decides what a text longer than ``max_length`` tokens becomes:
    an error row (``error``, the default: nothing is silently cut), a truncated
    encoding (``truncate``, what sentence-transformers does), or token windows
    (``chunk``: ``max_length``-token windows overlapping by ``chunk_overlap``
    tokens, each encoded, the stored vector their mean; ``keep_chunks`` also
    stores the per-window vectors, as for long audio).
    """

    pooling: Literal["mean", "cls", "max"] = "mean"
    max_length: int = 256
    overflow: Literal["error", "truncate", "chunk"] = "error"
    chunk_overlap: int = 0
    keep_chunks: bool = False
    max_chars: int = 100_000

    def __post_init__(self):
        if self.max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {self.max_length}")
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")
        if not 0 <= self.chunk_overlap < self.max_length // 2:
            raise ValueError(f"chunk_overlap must be in 0..{self.max_length // 2 - 1}, got {self.chunk_overlap}")
        if self.keep_chunks and self.overflow != "chunk":
            raise ValueError("keep_chunks needs overflow: chunk")


def text_problem(value, max_chars: int) -> str | None:
    """Why ``value`` is not a text worth encoding (null, not a string, blank, too long), or None."""
    if value is None:
        return "text is missing (null)"
    if not isinstance(value, str):
        return f"text is not a string (got {type(value).__name__})"
    if not value.strip():
        return "text is empty"
    if len(value) > max_chars:
        return f"text has {len(value)} characters, more than max_chars={max_chars}"
    return None


@ENCODERS.register("hf-text")
class HFTextEncoder(HFModelMixin, Encoder):
    """Encodes strings with a transformers ``AutoModel`` and pools its last hidden state."""

    modality = "text"
    Params = HFTextParams
    added_params = ("chunk_overlap", "keep_chunks")  # since 0.2; the defaults keep 0.1 fingerprints

    def __init__(self, params, batching):
        super().__init__(params, batching)
        self.model = None
        self.tokenizer = None

    def validate(self, value):
        return text_problem(value, self.params.max_chars)

    def load(self):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = self.from_pretrained(AutoTokenizer)
        self.model = self.tower(self.from_pretrained(AutoModel), "text_model").eval()
        self._torch = torch

    def preprocess(self, values):
        limit = self.params.max_length
        # One token past the limit is enough to tell "too long" without tokenizing all of it.
        ids = self.tokenizer(list(values), truncation=True, max_length=limit + 1)["input_ids"]
        out = []
        for value, tokens in zip(values, ids):
            if len(tokens) <= limit:
                out.append(Chunks([tokens]) if self.params.keep_chunks else tokens)
            elif self.params.overflow == "truncate":
                out.append(self.tokenizer(value, truncation=True, max_length=limit)["input_ids"])
            elif self.params.overflow == "chunk":
                out.append(self._windows(value))
            else:
                out.append(Failed(f"text has more than max_length={limit} tokens"))
        return out

    def _special_tokens(self) -> tuple[list, list]:
        """The token ids the tokenizer puts before and after a text ([CLS] … [SEP], <s> … </s>, …)."""
        if not hasattr(self, "_specials"):
            plain = self.tokenizer("a", add_special_tokens=False)["input_ids"]
            full = self.tokenizer("a", add_special_tokens=True)["input_ids"]
            start = next(i for i in range(len(full)) if full[i:i + len(plain)] == plain)
            self._specials = (full[:start], full[start + len(plain):])
        return self._specials

    def _windows(self, text: str) -> Chunks:
        """The text's tokens in ``max_length`` windows, each wrapped in the model's special tokens."""
        prefix, suffix = self._special_tokens()
        body = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        size = self.params.max_length - len(prefix) - len(suffix)
        spans = windows(len(body), size, size - self.params.chunk_overlap)
        return Chunks(prefix + body[s:e] + suffix for s, e in spans)

    def cost(self, item):
        return len(item)

    def encode(self, items):
        torch = self._torch
        batch = self.tokenizer.pad({"input_ids": items}, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            if self.params.pooling == "mean":
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            elif self.params.pooling == "max":
                pooled = hidden.masked_fill(mask == 0, float("-inf")).max(1).values
            else:
                pooled = hidden[:, 0]
        return self.finish(pooled)

    @property
    def dim(self):
        return int(self.model.config.hidden_size)
