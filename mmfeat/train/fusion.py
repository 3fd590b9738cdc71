"""Fusion operators for joint mode. Each maps per-modality vectors ``h`` (B, M, H) and a presence
``mask`` (B, M) to a fused representation; subclass ``Fusion``, register, name it in the run YAML.

- ``concat``  feature-level fusion (MultiBench "LF"): masked branch outputs concatenated.
- ``late``    per-modality heads; logits averaged with learned weights over present modalities (MMF late fusion).
- ``gated``   attention weights over present modalities, softmax masked, weighted sum.
- ``lowrank`` low-rank tensor fusion (LMF, Liu et al. 2018). Factors are ``nn.Parameter``s, so they
              train (MultiBench's LRTF kept them in a plain list and they never did).
- ``tensor``  tensor fusion (TFN, Zadeh et al. 2017): outer product of [h_m, 1]; small H only.
"""
import torch
from torch import nn

from mmfeat.registry import Registry

FUSIONS = Registry("fusion operator", group="mmfeat.fusions")


def with_bias(h, mask, m):
    """Modality ``m``'s vector, zeroed where missing, with a constant 1 appended: (B, H+1)."""
    ones = torch.ones(h.shape[0], 1, dtype=h.dtype, device=h.device)
    return torch.cat([h[:, m] * mask[:, m:m + 1], ones], dim=1)


class Fusion(nn.Module):
    """``forward(h, mask) -> (B, out_dim)``; ``produces_logits`` means the output is already the logits."""

    produces_logits = False

    def __init__(self, n_modalities: int, hidden: int, n_out: int):
        super().__init__()
        self.n_modalities, self.hidden, self.n_out = n_modalities, hidden, n_out

    @property
    def out_dim(self) -> int:
        raise NotImplementedError


@FUSIONS.register("concat")
class ConcatFusion(Fusion):
    def forward(self, h, mask):
        return (h * mask.unsqueeze(-1)).flatten(1)

    @property
    def out_dim(self):
        return self.n_modalities * self.hidden


@FUSIONS.register("late")
class LateFusion(Fusion):
    produces_logits = True

    def __init__(self, n_modalities, hidden, n_out):
        super().__init__(n_modalities, hidden, n_out)
        self.heads = nn.ModuleList(nn.Linear(hidden, n_out) for _ in range(n_modalities))
        self.weight_logits = nn.Parameter(torch.zeros(n_modalities))

    def forward(self, h, mask):
        logits = torch.stack([head(h[:, m]) for m, head in enumerate(self.heads)], dim=1)  # (B, M, C)
        w = self.weight_logits.expand_as(mask).masked_fill(mask == 0, float("-inf")).softmax(dim=1)
        return (logits * w.nan_to_num(0).unsqueeze(-1)).sum(dim=1)

    @property
    def out_dim(self):
        return self.n_out


@FUSIONS.register("gated")
class GatedFusion(Fusion):
    def __init__(self, n_modalities, hidden, n_out):
        super().__init__(n_modalities, hidden, n_out)
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.modality_bias = nn.Parameter(torch.zeros(n_modalities))

    def forward(self, h, mask):
        scores = self.score(h).squeeze(-1) + self.modality_bias
        alpha = scores.masked_fill(mask == 0, float("-inf")).softmax(dim=1).nan_to_num(0)
        return (alpha.unsqueeze(-1) * h).sum(dim=1)

    @property
    def out_dim(self):
        return self.hidden


@FUSIONS.register("lowrank")
class LowRankFusion(Fusion):
    rank = 4

    def __init__(self, n_modalities, hidden, n_out):
        super().__init__(n_modalities, hidden, n_out)
        self.factors = nn.ParameterList(
            nn.Parameter(torch.randn(self.rank, hidden + 1, hidden) * (hidden + 1) ** -0.5)
            for _ in range(n_modalities))
        self.rank_weights = nn.Parameter(torch.full((1, self.rank), 1.0 / self.rank))
        self.bias = nn.Parameter(torch.zeros(hidden))

    def forward(self, h, mask):
        fused = None
        for m, factor in enumerate(self.factors):
            # A missing modality contributes only its factor's bias row.
            part = torch.einsum("bi,rio->bro", with_bias(h, mask, m), factor)  # (B, rank, H)
            fused = part if fused is None else fused * part
        return torch.einsum("xr,bro->bo", self.rank_weights, fused) + self.bias

    @property
    def out_dim(self):
        return self.hidden


@FUSIONS.register("tensor")
class TensorFusion(Fusion):
    max_dim = 20_000

    def __init__(self, n_modalities, hidden, n_out):
        super().__init__(n_modalities, hidden, n_out)
        if (hidden + 1) ** n_modalities > self.max_dim:
            raise ValueError(f"tensor fusion of {n_modalities} modalities with hidden={hidden} has "
                             f"{(hidden + 1) ** n_modalities} dims; lower hidden or use lowrank")

    def forward(self, h, mask):
        out = with_bias(h, mask, 0)
        for m in range(1, self.n_modalities):
            out = torch.einsum("bi,bj->bij", out, with_bias(h, mask, m)).flatten(1)
        return out

    @property
    def out_dim(self):
        return (self.hidden + 1) ** self.n_modalities
