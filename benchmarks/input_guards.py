"""Memory of the input guards: resampling 0.3 s clips at odd sample rates, and refusing a 1 GiB member
inside a 1 MB .tar.gz. Prints peak-RSS growth (MiB) and seconds; no targets.

    python benchmarks/input_guards.py
"""
import gzip
import io
import resource
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.media_factory import Zeros  # noqa: E402


def peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def resampling():
    import soundfile as sf
    import torchaudio  # noqa: F401  (loaded before the baseline)

    from mmfeat.media.audio import decode_audio
    from tests.media_factory import tone

    base = peak_mib()
    for rate in (44111, 96001, 11127, 383999, 1001):
        buf = io.BytesIO()
        sf.write(buf, tone(0.3, rate), rate, format="WAV", subtype="FLOAT")
        started = time.perf_counter()
        out = decode_audio(buf.getvalue(), sample_rate=16000)
        print(f"resample 0.3 s at {rate} Hz -> {len(out)} samples: peak +{peak_mib() - base} MiB, "
              f"{time.perf_counter() - started:.3f} s")


def tar_bomb(directory: Path):
    from mmfeat.sources.webdataset import WebDatasetSource

    path = directory / "bomb.tar.gz"
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo("big.jpg")
        info.size = 2 ** 30
        tar.addfile(info, io.BufferedReader(Zeros(info.size), 1 << 20))
    base, started = peak_mib(), time.perf_counter()
    rows = list(WebDatasetSource(str(path), column="jpg").read_shard(str(path)))
    print(f"{path.stat().st_size / 2 ** 20:.2f} MB .tar.gz with a 1 GiB member: {[type(r).__name__ for r in rows]}, "
          f"peak +{peak_mib() - base} MiB, {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        tar_bomb(Path(tmp))
    resampling()
