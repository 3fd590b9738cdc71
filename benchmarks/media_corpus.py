"""Generated image and audio corpora for the media benchmarks (deterministic, written once to a directory)."""
import json
from pathlib import Path

import numpy as np


def photo_like(rng, width: int, height: int) -> np.ndarray:
    """Smooth colour gradients with blobs and mild noise: compresses and decodes like a photo, not like noise."""
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    channels = []
    for _ in range(3):
        a, b, c = rng.random(3) * 6
        plane = np.sin(a * x + b * y + c) + 0.5 * np.cos(b * x * 3 - a * y * 2)
        channels.append(plane)
    img = np.stack(channels, axis=-1)
    img = (img - img.min()) / (img.max() - img.min() + 1e-9) * 255
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype("uint8")


def _complete(manifest: Path, n: int) -> bool:
    """Whether an earlier run already wrote this corpus (its manifest has ``n`` rows)."""
    return manifest.exists() and sum(1 for _ in open(manifest)) == n


def image_corpus(directory: Path, n: int, seed: int = 0) -> Path:
    """``n`` JPEGs of 320–640 px, and a manifest (ids, relative paths); returns the manifest."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "images.jsonl"
    if _complete(manifest, n):
        return manifest
    rng = np.random.default_rng(seed)
    with open(manifest, "w") as f:
        for k in range(n):
            w, h = int(rng.integers(320, 641)), int(rng.integers(240, 481))
            Image.fromarray(photo_like(rng, w, h)).save(directory / f"img{k:05d}.jpg", quality=90)
            f.write(json.dumps({"id": f"img{k}", "image": f"img{k:05d}.jpg"}) + "\n")
    return manifest


def audio_corpus(directory: Path, n: int, seed: int = 0, min_s: float = 0.5, max_s: float = 10.0) -> Path:
    """``n`` WAV clips of ``min_s``–``max_s`` seconds at 8, 16 or 22.05 kHz (tones, chirps, noise)."""
    import soundfile as sf

    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "audio.jsonl"
    if _complete(manifest, n):
        return manifest
    rng = np.random.default_rng(seed)
    with open(manifest, "w") as f:
        for k in range(n):
            rate = int(rng.choice([8000, 16000, 22050]))
            t = np.arange(int(rng.uniform(min_s, max_s) * rate)) / rate
            f0, f1 = rng.uniform(100, 2000, 2)
            wave = 0.3 * np.sin(2 * np.pi * (f0 + (f1 - f0) * t / t[-1] / 2) * t) + rng.normal(0, 0.05, t.size)
            sf.write(directory / f"a{k:05d}.wav", wave.astype("float32"), rate, subtype="PCM_16")
            f.write(json.dumps({"id": f"a{k}", "audio": f"a{k:05d}.wav"}) + "\n")
    return manifest


def paths(manifest: Path, column: str) -> list[str]:
    """The absolute file paths a manifest refers to, in order."""
    return [str(manifest.parent / json.loads(line)[column]) for line in open(manifest)]
