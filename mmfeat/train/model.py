"""The joint model: per-modality adapters (small MLPs) → a fusion operator → a head."""
import torch
from torch import nn

from mmfeat.train.fusion import FUSIONS


class Standardize(nn.Module):
    """Per-feature standardisation with training-set statistics, kept as buffers (saved in checkpoints).

    Embeddings from different encoders live on very different scales (log-mel
    statistics in the tens, unit-norm text vectors); a per-sample LayerNorm keeps
    the within-sample shape but not the across-sample differences a linear probe needs.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def set(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.scale.copy_(std.clamp(min=1e-6))

    def forward(self, x):
        return (x - self.mean) / self.scale


class AttentionPool(nn.Module):
    """A sequence branch: chunk vectors (B, L, d), all-zero rows being padding → one (B, hidden) vector.

    Each chunk is standardised and projected; learned attention scores, softmaxed
    over the real chunks, weight their sum. Unlike the stored mean, it can pick out
    the few chunks that matter in a long input.
    """

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.standardize = Standardize(dim)
        self.project = nn.Sequential(nn.Linear(dim, hidden), nn.GELU())
        self.score = nn.Linear(hidden, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        real = x.abs().amax(dim=-1) > 0  # (B, L)
        h = self.project(self.standardize(x))
        scores = self.score(h).squeeze(-1).masked_fill(~real, float("-inf"))
        weights = scores.softmax(dim=1).nan_to_num(0)  # an empty sequence pools to zeros (and is masked)
        return self.dropout((weights.unsqueeze(-1) * h).sum(dim=1))


class JointModel(nn.Module):
    """``forward(xs, mask)`` with ``xs`` a list of (B, d_m) tensors and ``mask`` (B, M) → (B, n_out) logits.

    ``hidden: 0`` makes the model linear up to the fusion: each adapter is a linear map
    of the standardised input to ``n_out`` dims and the head a single linear layer, so
    ``concat`` is a regularised logistic regression and ``late`` a product of linear experts.
    """

    def __init__(self, dims: list, n_out: int, *, fusion: str = "concat", hidden: int = 64, dropout: float = 0.2,
                 sequence: list | None = None):
        super().__init__()
        sequence = list(sequence or [False] * len(dims))
        self.config = {"dims": list(dims), "n_out": n_out, "fusion": fusion, "hidden": hidden, "dropout": dropout,
                       "sequence": sequence}
        width = hidden or n_out
        self.adapters = nn.ModuleList(
            AttentionPool(d, width, dropout) if seq else
            nn.Sequential(Standardize(d), nn.Dropout(dropout), nn.Linear(d, width)) if not hidden else
            nn.Sequential(Standardize(d), nn.Linear(d, width), nn.GELU(), nn.Dropout(dropout))
            for d, seq in zip(dims, sequence))
        self.fusion = FUSIONS.get(fusion)(len(dims), width, n_out)
        if self.fusion.produces_logits:
            self.head = nn.Identity()
        elif not hidden:
            self.head = nn.Linear(self.fusion.out_dim, n_out)
        else:
            self.head = nn.Sequential(nn.Linear(self.fusion.out_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                      nn.Linear(hidden, n_out))

    @classmethod
    def from_config(cls, config: dict) -> "JointModel":
        """Rebuild a model from its saved ``config`` (the ``config`` attribute of the model that was saved)."""
        return cls(config["dims"], config["n_out"], fusion=config["fusion"], hidden=config["hidden"],
                   dropout=config["dropout"], sequence=config.get("sequence"))

    def set_input_stats(self, stats) -> None:
        """Set each branch's standardisation: one (mean, std) per modality, from the training rows."""
        for adapter, (mean, std) in zip(self.adapters, stats):
            (adapter.standardize if isinstance(adapter, AttentionPool) else adapter[0]).set(mean, std)

    def forward(self, xs, mask):
        h = torch.stack([adapter(x) for adapter, x in zip(self.adapters, xs)], dim=1)
        return self.head(self.fusion(h, mask))
