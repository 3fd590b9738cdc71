"""Where training batches come from. ``fit`` asks a source for three things:

- ``input_stats()``: per-modality (mean, std) over the rows that have the modality,
  for the model's input standardisation;
- ``epoch(generator, batch_size)``: shuffled ``(xs, mask, y)`` minibatches;
- ``loss(model, criterion)``: the mean loss over all rows (validation).

``InMemory`` serves tensors already in memory; ``mmfeat.train.stream`` serves
the store bucket by bucket for data larger than memory.
"""
import torch


def input_stats(x: torch.Tensor, present: torch.Tensor):
    """(mean, std) per feature over present rows; for chunk sequences (n, L, d) over real chunks."""
    x = x[present > 0]
    if x.dim() == 3:
        x = x[x.abs().amax(dim=-1) > 0]
    if not len(x):
        return torch.zeros(x.shape[-1]), torch.ones(x.shape[-1])
    return x.mean(dim=0), x.std(dim=0, unbiased=False)


class InMemory:
    """``(xs, mask, y)`` tensors."""

    def __init__(self, xs, mask, y):
        self.xs, self.mask, self.y = xs, mask, y

    def __len__(self):
        return len(self.y)

    def input_stats(self):
        return [input_stats(x, self.mask[:, m]) for m, x in enumerate(self.xs)]

    def epoch(self, generator, batch_size: int):
        order = torch.randperm(len(self.y), generator=generator)
        for s in range(0, len(self.y), batch_size):
            idx = order[s:s + batch_size]
            yield [x[idx] for x in self.xs], self.mask[idx], self.y[idx]

    def loss(self, model, criterion) -> float:
        model.eval()
        with torch.inference_mode():
            return float(criterion(model(self.xs, self.mask), self.y).item())
