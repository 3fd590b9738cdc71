"""Checkpoints: ``model.safetensors`` (weights only, no pickled modules) and ``model.json`` (what rebuilds them).

``Checkpoint(run_dir)`` loads either kind and turns feature arrays into logits
(and, for joint models, fused embeddings), the way training produced them.
"""
import json
from pathlib import Path

import numpy as np
import torch

from mmfeat.errors import MmfeatError
from mmfeat.hashing import sha256_file
from mmfeat.store.files import replace_json
from mmfeat.train.loop import predict
from mmfeat.train.metrics import softmax
from mmfeat.train.model import JointModel
from mmfeat.train.sequential import log_probs
from mmfeat.train.stage_model import build_stage
from mmfeat.train.tensors import with_extra

WEIGHTS, CONFIG = "model.safetensors", "model.json"


def save_joint(out: Path, model: JointModel, meta: dict) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out / WEIGHTS))
    replace_json(out / CONFIG, {"kind": "joint", "model": model.config, **meta})


def save_sequential(out: Path, stages: list, meta: dict) -> None:
    """``stages[k]`` is the list of fold models of stage k."""
    from safetensors.torch import save_file

    state = {f"stage{k}.fold{f}.{name}": p.detach().contiguous() for k, models in enumerate(stages)
             for f, model in enumerate(models) for name, p in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS))
    replace_json(out / CONFIG, {"kind": "sequential", "stages": [[m.config for m in models] for models in stages],
                                **meta})


def _tensor(x: np.ndarray) -> torch.Tensor:
    """A float32 tensor over ``x``, copied only if ``x`` is read-only (Arrow memory) or not float32/contiguous."""
    x = np.ascontiguousarray(x, np.float32)
    return torch.from_numpy(x if x.flags.writeable else x.copy())


def _build(config: dict, state: dict, stage: bool = False):
    model = build_stage(config) if stage else JointModel.from_config(config)
    model.load_state_dict(state)
    return model.eval()


class Checkpoint:
    """A trained run, ready for inference: ``features``, ``classes``, ``task``, ``temperature``."""

    def __init__(self, run_dir):
        from safetensors.torch import load_file

        self.run_dir = Path(run_dir)
        try:
            self.meta = json.loads((self.run_dir / CONFIG).read_text())
            state = load_file(str(self.run_dir / WEIGHTS))
        except FileNotFoundError as exc:
            raise MmfeatError(f"{self.run_dir}: not a training run directory ({exc.filename} is missing)") from None
        self.kind, self.features, self.classes = self.meta["kind"], self.meta["features"], self.meta["classes"]
        self.task, self.temperature = self.meta["task"], self.meta.get("temperature", 1.0)
        if self.kind == "joint":
            self.model = _build(self.meta["model"], state)
        else:
            self.stages = [[_build(c, {k.split(".", 2)[2]: v for k, v in state.items()
                                       if k.startswith(f"stage{s}.fold{f}.")}, stage=True)
                            for f, c in enumerate(configs)]
                           for s, configs in enumerate(self.meta["stages"])]

    @property
    def dims(self) -> dict:
        """Vector length of each input feature set."""
        return self.meta["feature_dims"]

    @property
    def weights_sha256(self) -> str:
        return sha256_file(self.run_dir / WEIGHTS)

    def logits(self, xs: list, mask: np.ndarray) -> np.ndarray:
        """Logits for rows given one (n, d) array per feature set (in ``features`` order) and the mask."""
        if self.kind == "joint":
            return predict(self.model, [_tensor(x) for x in xs], _tensor(mask))
        n = len(mask)
        probs = np.tile(np.asarray(self.meta["prior"], np.float32), (n, 1))
        # Offset stages read the previous stage's log-probabilities; runs before them read probabilities.
        handed = log_probs if self.meta.get("stage_input") == "log_probs" else (lambda p: p)
        for k, (name, models) in enumerate(zip(self.meta["order"], self.stages)):
            m = self.features.index(name)
            rows = np.flatnonzero(mask[:, m] > 0)  # rows missing this modality keep the previous stage's output
            if not len(rows):
                continue
            x = xs[m][rows] if k == 0 else with_extra(xs[m][rows], handed(probs[rows]))
            x = _tensor(x)
            ones = torch.ones(len(rows), 1)
            averaged = np.zeros((len(rows), probs.shape[1]), np.float32)
            for model in models:  # the same arithmetic as training, so figures reproduce exactly
                averaged += softmax(predict(model, [x], ones)) / len(models)
            probs[rows] = averaged
        return np.log(np.clip(probs, 1e-7, 1))

    def probabilities(self, xs, mask) -> np.ndarray:
        """Calibrated (temperature-scaled) class probabilities."""
        return softmax(self.logits(xs, mask) / self.temperature)

    def embedding(self, xs, mask) -> np.ndarray:
        """The fused representation the head reads (joint models only)."""
        if self.kind != "joint":
            raise MmfeatError(f"{self.run_dir}: a sequential run has no fused embedding; use --output probs")
        model = self.model
        with torch.inference_mode():
            h = torch.stack([a(_tensor(x)) for a, x in zip(model.adapters, xs)], dim=1)
            return model.fusion(h, _tensor(mask)).numpy()
