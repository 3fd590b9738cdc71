"""The joint model: per-modality adapters (small MLPs) → a fusion operator → a head."""
import torch
from torch import nn

from mmfeat.train.fusion import FUSIONS


class JointModel(nn.Module):
    """``forward(xs, mask)`` with ``xs`` a list of (B, d_m) tensors and ``mask`` (B, M) → (B, n_out) logits."""

    def __init__(self, dims: list, n_out: int, *, fusion: str = "concat", hidden: int = 64, dropout: float = 0.2):
        super().__init__()
        self.config = {"dims": list(dims), "n_out": n_out, "fusion": fusion, "hidden": hidden, "dropout": dropout}
        self.adapters = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(d), nn.Linear(d, hidden), nn.GELU(), nn.Dropout(dropout)) for d in dims)
        self.fusion = FUSIONS.get(fusion)(len(dims), hidden, n_out)
        self.head = nn.Identity() if self.fusion.produces_logits else nn.Sequential(
            nn.Linear(self.fusion.out_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_out))

    def forward(self, xs, mask):
        h = torch.stack([adapter(x) for adapter, x in zip(self.adapters, xs)], dim=1)
        return self.head(self.fusion(h, mask))
