"""Generated media for tests: images, audio, a corrupt-file corpus, tiny vision/audio models."""
import io
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np


def write_image(path: Path, seed: int, size=(40, 30), fmt: str | None = None) -> Path:
    """A random RGB image (deterministic by ``seed``) in the format implied by ``path`` (or ``fmt``)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = (rng.random((size[1], size[0], 3)) * 255).astype("uint8")
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine tone (float32), ``(n,)`` or ``(n, channels)``."""
    t = np.arange(int(round(seconds * rate))) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype("float32")
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def write_audio(path: Path, seconds: float, rate: int = 16000, freq: float = 440.0, channels: int = 1,
                subtype: str | None = None) -> Path:
    """A tone written as WAV/FLAC/OGG by extension."""
    import soundfile as sf

    sf.write(path, tone(seconds, rate, freq, channels), rate, subtype=subtype)
    return path


def huge_png_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny, valid-looking PNG whose header declares ``width``×``height`` pixels (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def corrupt_images(directory: Path) -> dict[str, str]:
    """Broken image files; returns ``{file name: expected reason fragment}``."""
    good = io.BytesIO()
    from PIL import Image

    Image.fromarray(np.full((64, 64, 3), 128, "uint8")).save(good, format="JPEG")
    (directory / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (directory / "zero.png").write_bytes(b"")
    (directory / "text.png").write_text("this is not an image\n")
    (directory / "huge.png").write_bytes(huge_png_header())
    write_audio(directory / "sound.wav", 0.5)
    (directory / "sound.jpg").write_bytes((directory / "sound.wav").read_bytes())  # wrong extension, not an image
    (directory / "sound.wav").unlink()
    return {"truncated.jpg": "truncated", "zero.png": "empty file", "text.png": "not an image",
            "huge.png": "too large", "sound.jpg": "not an image", "missing.png": "file not found"}


def corrupt_audio(directory: Path) -> dict[str, str]:
    """Broken audio files; returns ``{file name: expected reason fragment}``."""
    import soundfile as sf

    nan = tone(0.5, 16000)
    nan[100] = np.nan
    sf.write(directory / "nan.wav", nan, 16000, subtype="FLOAT")
    sf.write(directory / "empty.wav", np.zeros(0, "float32"), 16000)
    (directory / "zero.flac").write_bytes(b"")
    (directory / "text.wav").write_text("RIFF but not really\n")
    write_image(directory / "picture.png", 0)
    (directory / "picture.wav").write_bytes((directory / "picture.png").read_bytes())  # wrong extension
    (directory / "picture.png").unlink()
    write_audio(directory / "long.wav", 3.0, rate=8000)
    return {"nan.wav": "NaN", "empty.wav": "no samples", "zero.flac": "empty file", "text.wav": "not audio",
            "picture.wav": "not audio", "long.wav": "max_seconds", "missing.flac": "file not found"}


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A tar with the given ``(name, bytes)`` members in order, names written verbatim."""
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_tiny_vit(target: Path, seed: int = 0) -> Path:
    """A seeded 2-layer ViT (32×32 input) with its image processor, saved with save_pretrained."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(seed)
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)
    ViTModel(config).eval().save_pretrained(target)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(target)
    return target


def make_tiny_clip_vision(target: Path, seed: int = 0) -> Path:
    """A seeded 2-layer CLIP vision tower with its image processor."""
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    config = CLIPVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                              image_size=32, patch_size=8, projection_dim=16)
    CLIPVisionModel(config).eval().save_pretrained(target)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(target)
    return target


def make_tiny_wav2vec2(target: Path, seed: int = 0) -> Path:
    """A seeded 2-layer wav2vec2 (layer-norm feature encoder, trained-with-mask style) and its extractor."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(seed)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True)
    Wav2Vec2Model(config).eval().save_pretrained(target)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True, do_normalize=True).save_pretrained(target)
    return target


class Zeros(io.RawIOBase):
    """``n`` zero bytes, streamed (so writing a decompression bomb needs no memory either)."""

    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n
