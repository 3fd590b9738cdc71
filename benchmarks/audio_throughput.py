"""Audio extraction throughput: bare loops vs mmfeat end to end (Beam into the store).

    .venv/bin/python benchmarks/audio_throughput.py [--n 2000] [--n-hf 400]

1. The weight-free default (``features/audio_logmel.yaml``) on ``--n`` generated
   clips of 0.5–10 s at 8/16/22.05 kHz, against a bare loop: soundfile read,
   mono, torchaudio resample to 16 kHz, log-mel + deltas, mean/std.
2. A tiny wav2vec2 built from a config (``hf-audio``) on ``--n-hf`` clips,
   against a bare loop that runs the feature extractor and model clip by clip
   (no padding), mean-pooling the last hidden state.
"""
import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]

from media_corpus import audio_corpus, paths  # noqa: E402


def read_16k(path):
    import soundfile as sf
    import torch
    import torchaudio.functional as AF

    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    wave = torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))
    return AF.resample(wave, rate, 16000) if rate != 16000 else wave


def bare_logmel(files):
    import torch
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=64)
    out = []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for path in files:
            spec = torch.log(mel(read_16k(path)) + 1e-6)
            frames = torch.cat([spec, torchaudio.functional.compute_deltas(spec[None])[0]])
            out.append(torch.cat([frames.mean(1), frames.std(1, unbiased=False)]).numpy())
    return np.stack(out), time.perf_counter() - t0


def bare_hf(files, model_dir):
    import torch
    from transformers import AutoFeatureExtractor, AutoModel

    fx, model = AutoFeatureExtractor.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir).eval()
    out = []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for path in files:
            inputs = fx(read_16k(path).numpy(), sampling_rate=16000, return_tensors="pt")
            out.append(model(**inputs).last_hidden_state.mean(1)[0].numpy())
    return np.stack(out), time.perf_counter() - t0


def tiny_wav2vec2(target: Path) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                            conv_dim=(32, 32, 32), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 4),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            feat_extract_norm="layer", do_stable_layer_norm=True)
    Wav2Vec2Model(config).eval().save_pretrained(target)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True).save_pretrained(target)
    return target


def run_mmfeat(spec, manifest, store, n):
    from mmfeat import FeatureStore
    from mmfeat.beam.extract_job import extract

    t0 = time.perf_counter()
    report = extract(spec, store, str(manifest))
    seconds = time.perf_counter() - t0
    assert report["n_ok"] == n, report
    ids, vectors = FeatureStore(store).to_numpy(spec.name)
    return dict(zip(ids, vectors)), seconds, report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--n-hf", type=int, default=400)
    ap.add_argument("--data", default=str(REPO / "bench_out" / "audio"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import soundfile

    from mmfeat.spec import FeatureSpec, load_spec

    manifest = audio_corpus(Path(args.data), args.n)
    files = paths(manifest, "audio")
    hours = sum(soundfile.info(f).duration for f in files) / 3600
    print(f"audio: {args.n} WAV clips, 0.5-10 s, 8/16/22.05 kHz, {hours:.2f} h in all")

    with tempfile.TemporaryDirectory() as tmp:
        bare, t_bare = bare_logmel(files)
        got, t_mm, report = run_mmfeat(load_spec(REPO / "features" / "audio_logmel.yaml"), manifest,
                                       Path(tmp) / "store", args.n)
        drift = max(float(np.abs(got[f"a{k}"] - bare[k]).max()) for k in range(args.n))
        print(f"logmel  bare loop (read + resample + features): {args.n / t_bare:8.1f} clips/s")
        print(f"logmel  mmfeat end to end:                      {args.n / t_mm:8.1f} clips/s   "
              f"ratio {t_bare / t_mm:.3f} (target >= 0.95), max |diff| {drift:.1e}")
        print(f"        mmfeat stage seconds: {report['bucket_seconds']}")

        model = tiny_wav2vec2(Path(tmp) / "w2v")
        subset = Path(args.data) / f"subset-{args.n_hf}.jsonl"
        lines = open(manifest).read().splitlines()[: args.n_hf]
        subset.write_text("\n".join(lines) + "\n")
        sub_files = files[: args.n_hf]
        bare_h, t_bare_h = bare_hf(sub_files, model)
        spec = FeatureSpec.from_dict({"name": "w2v", "modality": "audio", "input": {"column": "audio"},
                                      "encoder": {"kind": "hf-audio", "model": str(model)},
                                      "batching": {"max_cost": 1_600_000, "max_batch_size": 16}})
        got_h, t_mm_h, report_h = run_mmfeat(spec, subset, Path(tmp) / "store", args.n_hf)
        drift_h = max(float(np.abs(got_h[f"a{k}"] - bare_h[k]).max()) for k in range(args.n_hf))
        print(f"hf-audio (tiny wav2vec2) bare loop, clip by clip: {args.n_hf / t_bare_h:6.1f} clips/s")
        print(f"hf-audio mmfeat end to end (duration batches):    {args.n_hf / t_mm_h:6.1f} clips/s   "
              f"ratio {t_bare_h / t_mm_h:.3f} (target >= 0.95), max |diff| {drift_h:.1e}")
        print(f"        mmfeat stage seconds: {report_h['bucket_seconds']}")


if __name__ == "__main__":
    main()
