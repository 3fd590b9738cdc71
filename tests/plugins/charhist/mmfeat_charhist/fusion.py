"""A third-party fusion operator, registered on import (its entry point names this module)."""
from mmfeat.train.fusion import FUSIONS, Fusion


@FUSIONS.register("plugin-mean")
class PluginMeanFusion(Fusion):
    """The mean of the present modalities' vectors."""

    def forward(self, h, mask):
        weights = mask.unsqueeze(-1)
        return (h * weights).sum(1) / weights.sum(1).clamp(min=1)

    @property
    def out_dim(self):
        return self.hidden
