"""The multimodal demo behind ``make demo``: generate, extract with Beam, train fusion models, compare.

    python pipelines/demo.py --out demo_out

Offline and generated: scikit-learn's handwritten digits (8×8 images, heavily
noised), a DTMF keypad tone per digit (buried in noise), and a short text that
names the digit but is often wrong. No modality is enough alone. The three
feature sets (``image_pixels``, ``audio_logmel``, ``text_minilm``) are extracted
with the Beam pipeline, then unimodal baselines, joint models (every fusion
operator) and a sequential model are trained and compared on the same test split.
"""
import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np

from mmfeat.cli import main as mmfeat

REPO = Path(__file__).resolve().parents[1]
WORDS = "zero one two three four five six seven eight nine".split()
DTMF = {1: (697, 1209), 2: (697, 1336), 3: (697, 1477), 4: (770, 1209), 5: (770, 1336), 6: (770, 1477),
        7: (852, 1209), 8: (852, 1336), 9: (852, 1477), 0: (941, 1336)}


def generate(root: Path, seed: int = 0) -> Path:
    """Write the images, audio clips and manifest; return the manifest path."""
    import soundfile as sf
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    (root / "media").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        id_ = f"d{k:04d}"
        noisy = np.clip(pixels / 16 + rng.normal(0, 0.6, pixels.shape), 0, 1)
        Image.fromarray((noisy * 255).astype("uint8")).save(root / "media" / f"{id_}.png")
        row = {"id": id_, "label": int(label), "image": f"media/{id_}.png",
               "split": "test" if k % 5 == 0 else "train"}
        if rng.random() > 0.1:  # 10 % of the samples have no audio: a missing modality
            rate, t = 8000, np.arange(int(0.25 * 8000)) / 8000
            low, high = DTMF[int(label)]
            tone = 0.5 * np.sin(2 * np.pi * low * t) + 0.5 * np.sin(2 * np.pi * high * t)
            sf.write(root / "media" / f"{id_}.wav", (0.25 * tone + rng.normal(0, 1.0, t.size)).astype("float32"),
                     rate, subtype="FLOAT")
            row["audio"] = f"media/{id_}.wav"
        said = int(label) if rng.random() < 0.45 else int(rng.integers(0, 10))
        row["text"] = f"the caller says {WORDS[said]} {rng.choice(['i think', 'maybe', 'probably', 'or so'])}"
        rows.append(row)
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="demo_out")
    args = ap.parse_args()
    root = Path(args.out)
    if root.exists():
        shutil.rmtree(root)
    manifest = generate(root)
    store = root / "store"
    for feature in ("image_pixels", "audio_logmel", "text_minilm"):
        # Rows without audio are error rows of audio_logmel ("missing field"), i.e. a missing modality.
        code = mmfeat(["extract", "--store", str(store), "--input", str(manifest),
                       "--feature", str(REPO / "features" / f"{feature}.yaml")])
        if code != 0:
            raise SystemExit(code)

    from mmfeat.train.config import TrainConfig
    from mmfeat.train.report import format_table
    from mmfeat.train.run import train

    base = TrainConfig.from_dict({
        "store": str(store), "features": ["image_pixels", "audio_logmel", "text_minilm"], "out": str(root / "runs"),
        "labels": {"path": str(manifest), "column": "label", "split_column": "split"},
        "hidden": 16, "epochs": 150, "patience": 15, "modality_dropout": 0.1})
    results = {}
    for fusion in ("concat", "late", "gated", "lowrank", "tensor"):
        cfg = dataclasses.replace(base, fusion=fusion, out=str(root / "runs" / f"joint_{fusion}"),
                                  baselines=fusion == "concat")
        results[f"joint {fusion}"] = train(cfg, progress=False)
        if fusion == "concat":
            print(format_table(results[f"joint {fusion}"], "joint (concat) with its unimodal baselines and subsets"))
    seq = dataclasses.replace(base, mode="sequential", stages=["text_minilm", "audio_logmel", "image_pixels"],
                              baselines=False, out=str(root / "runs" / "sequential"))
    results["sequential"] = train(seq, progress=False)

    uni = results["joint concat"]["unimodal"]
    lines = [f"\n{'model (test split)':<28}{'accuracy':>10}{'macro_f1':>10}{'ece':>8}"]
    for name, m in uni.items():
        t = m["test"]
        lines.append(f"{'unimodal ' + name:<28}{t['accuracy']:>10.3f}{t['macro_f1']:>10.3f}{t['ece']:>8.3f}")
    for name, m in results.items():
        t = m["test"]
        lines.append(f"{name:<28}{t['accuracy']:>10.3f}{t['macro_f1']:>10.3f}{t['ece']:>8.3f}")
    print("\n".join(lines))
    best_single = max(m["test"]["accuracy"] for m in uni.values())
    best = max(results, key=lambda k: results[k]["test"]["accuracy"])
    best_fused = results[best]["test"]["accuracy"]
    print(f"\nbest single modality {best_single:.3f}; best fused ({best}) {best_fused:.3f}; "
          f"plots in {root}/runs/*/plots/")
    # The best model's calibrated probabilities go back into the store as a feature set, with lineage.
    run_dir = root / "runs" / ("sequential" if best == "sequential" else f"joint_{best.split()[-1]}")
    mmfeat(["predict", str(run_dir), "--name", "digit_probs"])
    if best_fused <= best_single:
        raise SystemExit("fusion did not beat the best single modality")


if __name__ == "__main__":
    main()
