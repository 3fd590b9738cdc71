"""``logmel``: the weight-free audio default, log-mel (or MFCC) statistics over time.

For each clip: a log-mel spectrogram (25 ms windows, 10 ms hop at 16 kHz by
default), optionally its deltas, then the mean and standard deviation of every
band over time. With 64 mels and deltas that is 64 × 2 × 2 = 256 values. The
clip is processed on its own, never padded with its batch neighbours, so its
vector does not depend on what it was batched with. The features are computed
right after decoding, on the decode threads: per-clip spectrograms are too small
to keep two cores busy from one thread.
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.audio import AudioEncoder, AudioParams
from mmfeat.encoders.base import Chunks


@dataclass(frozen=True, kw_only=True)
class LogMelParams(AudioParams):
    """Spectral parameters; all change the vectors and are fingerprinted."""

    features: Literal["logmel", "mfcc"] = "logmel"
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 64
    n_mfcc: int = 20
    deltas: bool = True

    def __post_init__(self):
        super().__post_init__()
        if self.n_fft < 16 or self.hop_length < 1 or self.n_mels < 1:
            raise ValueError("need n_fft >= 16, hop_length >= 1, n_mels >= 1")
        if self.features == "mfcc" and not 1 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc must be in 1..n_mels={self.n_mels}, got {self.n_mfcc}")


def logmel_stats(samples: np.ndarray, transform, params: LogMelParams):
    """The statistics vector of one clip (a torch tensor), given a torchaudio ``transform``."""
    import torch
    import torchaudio.functional as AF

    wave = torch.from_numpy(samples)
    if wave.numel() < params.n_fft:  # shorter than one analysis window: zero-pad to one frame
        wave = torch.nn.functional.pad(wave, (0, params.n_fft - wave.numel()))
    spec = transform(wave)
    if params.features == "logmel":
        spec = torch.log(spec + 1e-6)
    parts = [spec]
    if params.deltas:
        parts.append(AF.compute_deltas(spec.unsqueeze(0)).squeeze(0))
    frames = torch.cat(parts, dim=0)  # (bands, time)
    return torch.cat([frames.mean(dim=1), frames.std(dim=1, unbiased=False)])


def make_transform(params: LogMelParams):
    """The torchaudio transform for ``params`` (MelSpectrogram or MFCC)."""
    import torchaudio.transforms as T

    mel = {"n_fft": params.n_fft, "hop_length": params.hop_length, "n_mels": params.n_mels}
    if params.features == "mfcc":
        return T.MFCC(sample_rate=params.sample_rate, n_mfcc=params.n_mfcc, melkwargs=mel)
    return T.MelSpectrogram(sample_rate=params.sample_rate, **mel)


@ENCODERS.register("logmel")
class LogMelEncoder(AudioEncoder):
    """Mean and standard deviation over time of log-mel bands (and their deltas)."""

    Params = LogMelParams
    libraries = ("torchaudio",)

    def load(self):
        import torch

        self._torch = torch
        self.transform = make_transform(self.params)

    def prepare(self, data):
        samples = super().prepare(data)
        with self._torch.inference_mode():
            if isinstance(samples, Chunks):
                return Chunks(self._stats(chunk) for chunk in samples)
            return self._stats(samples)

    def _stats(self, samples):
        return logmel_stats(samples, self.transform, self.params).numpy()

    def cost(self, item):
        return 1  # items are finished feature vectors

    @property
    def batch_overhead(self):
        return 1

    def encode(self, items):
        return np.stack(items)

    @property
    def dim(self):
        bands = self.params.n_mfcc if self.params.features == "mfcc" else self.params.n_mels
        return bands * 2 * (2 if self.params.deltas else 1)
