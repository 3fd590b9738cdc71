"""A sequential stage: a correction to the previous stage's log-probabilities from one modality.

``z_k = (1 + gain) · z_{k−1} + f_k(x_k)``: ``z_{k−1}`` is the previous stage's
log-probabilities (out-of-fold for training rows), passed through unregularised as
an offset; ``f_k`` is a JointModel over the stage's own modality (``hidden: 0``: a
linear map, so the stage is a penalised logistic regression with an offset). The
scalar ``gain`` starts at 0 and weight decay pulls it back to 0, so a stage starts
from the chain so far and learns how far to trust it. Feeding the previous
prediction as one more standardised input feature instead lets regularisation and
dropout shrink it like any noisy feature: measured on the demo, stage 2 then scored
below stage 1 on its own out-of-fold rows.

Input rows are ``x_k`` with ``z_{k−1}`` appended (``tensors(..., extra=...)``; for
chunk sequences, appended to every real chunk), so training and inference feed one tensor.
"""
import torch
from torch import nn

from mmfeat.train.model import JointModel

KIND = "offset-stage"


class StageModel(nn.Module):
    """``forward([x ⧺ z_prev], mask)`` → (B, n_out) logits; the first stage (``offset=False``) has no z_prev."""

    def __init__(self, dim: int, n_out: int, *, hidden: int, dropout: float, sequence: bool = False,
                 offset: bool = True):
        super().__init__()
        self.config = {"kind": KIND, "dim": dim, "n_out": n_out, "hidden": hidden, "dropout": dropout,
                       "sequence": bool(sequence), "offset": bool(offset)}
        self.dim, self.offset = dim, bool(offset)
        self.inner = JointModel([dim], n_out, fusion="concat", hidden=hidden, dropout=dropout, sequence=[sequence])
        self.gain = nn.Parameter(torch.zeros(1))

    def set_input_stats(self, stats) -> None:
        """Standardise the modality only; the offset stays in log-probability units."""
        (mean, std), = stats
        self.inner.set_input_stats([(mean[:self.dim], std[:self.dim])])

    def previous(self, x: torch.Tensor) -> torch.Tensor:
        """The appended log-probabilities: the columns after ``dim`` (averaged over the real chunks of a sequence)."""
        z = x[..., self.dim:]
        if x.dim() == 2:
            return z
        real = (x.abs().amax(dim=-1, keepdim=True) > 0).float()
        return (z * real).sum(dim=1) / real.sum(dim=1).clamp(min=1)

    def forward(self, xs, mask):
        x = xs[0]
        out = self.inner([x[..., :self.dim]], mask)
        if self.offset:
            out = out + (1 + self.gain) * self.previous(x)
        return out


def build_stage(config: dict) -> nn.Module:
    """Rebuild a stage from its saved ``config`` (runs before offset stages saved plain JointModel configs)."""
    if config.get("kind") == KIND:
        return StageModel(config["dim"], config["n_out"], hidden=config["hidden"], dropout=config["dropout"],
                          sequence=config["sequence"], offset=config["offset"])
    return JointModel.from_config(config)
