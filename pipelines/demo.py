"""The multimodal demo behind ``make demo``: generate, extract with Beam, train fusion models, compare.

    python pipelines/demo.py --out demo_out

Offline and generated: scikit-learn's handwritten digits (8×8 images, heavily
noised), a DTMF keypad tone per digit (buried in noise), and a short text that
names the digit but is often wrong. No modality is enough alone. Every sample
belongs to one of 16 people (the ``person`` group column), each with their own
nuisance: stroke thickness, shift and noise; voice pitch, tempo and noise;
phrasing and reliability. The three feature sets (``image_pixels``,
``audio_logmel``, ``text_minilm``) are extracted with the Beam pipeline; joint
models (every fusion operator) and a sequential model are trained on a group split
(val and test people never seen in training) and compared with linear-probe
baselines on the same split.
"""
import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np

from mmfeat.cli import main as mmfeat

REPO = Path(__file__).resolve().parents[1]
WORDS = "zero one two three four five six seven eight nine".split()
DTMF = {1: (697, 1209), 2: (697, 1336), 3: (697, 1477), 4: (770, 1209), 5: (770, 1336), 6: (770, 1477),
        7: (852, 1209), 8: (852, 1336), 9: (852, 1477), 0: (941, 1336)}


GROUPS = 16  # "people": each one writes, speaks and phrases in its own way


def group_styles(rng) -> list:
    """One nuisance per group: stroke thickness, shift and noise for images; pitch, tempo and noise for
    audio; phrasing and reliability for text. A model must work for people it never saw."""
    styles = []
    for g in range(GROUPS):
        styles.append({"thick": bool(g % 2), "shift": (0, int(rng.integers(0, 2))),
                       "image_noise": float(rng.uniform(0.5, 0.65)), "contrast": float(rng.uniform(0.8, 1.0)),
                       "pitch": float(rng.uniform(0.985, 1.015)), "seconds": float(rng.uniform(0.22, 0.3)),
                       "audio_noise": float(rng.uniform(0.85, 1.1)), "truthful": float(rng.uniform(0.35, 0.55)),
                       "phrase": PHRASES[g % len(PHRASES)]})
    return styles


PHRASES = ["the caller says {w} {h}", "{w} {h} is what i heard", "number {w} {h}", "they said {w} {h}",
           "i think it was {w}", "{h} {w}"]
HEDGES = ["i think", "maybe", "probably", "or so"]


def draw(pixels, style, rng) -> np.ndarray:
    """A digit image in one writer's style: thicker strokes, a shift, its contrast and noise."""
    img = pixels / 16
    if style["thick"]:
        img = np.maximum(img, np.maximum(np.roll(img, 1, axis=1), np.roll(img, 1, axis=0)) * 0.8)
    img = np.roll(img, style["shift"], axis=(0, 1)) * style["contrast"]
    return np.clip(img + rng.normal(0, style["image_noise"], img.shape), 0, 1)


def speak(label, style, rng) -> np.ndarray:
    """A digit's DTMF tone in one speaker's pitch and tempo, buried in their level of noise."""
    rate = 8000
    t = np.arange(int(style["seconds"] * rate)) / rate
    low, high = (f * style["pitch"] for f in DTMF[int(label)])
    tone = 0.5 * np.sin(2 * np.pi * low * t) + 0.5 * np.sin(2 * np.pi * high * t)
    return (0.25 * tone + rng.normal(0, style["audio_noise"], t.size)).astype("float32")


def generate(root: Path, seed: int = 0) -> Path:
    """Write the images, audio clips and manifest (with a ``person`` group column); return the manifest path."""
    import soundfile as sf
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    styles = group_styles(rng)
    (root / "media").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        id_, group = f"d{k:04d}", int(rng.integers(0, GROUPS))
        style = styles[group]
        Image.fromarray((draw(pixels, style, rng) * 255).astype("uint8")).save(root / "media" / f"{id_}.png")
        row = {"id": id_, "label": int(label), "person": f"p{group:02d}", "image": f"media/{id_}.png"}
        if rng.random() > 0.1:  # 10 % of the samples have no audio: a missing modality
            sf.write(root / "media" / f"{id_}.wav", speak(label, style, rng), 8000, subtype="FLOAT")
            row["audio"] = f"media/{id_}.wav"
        said = int(label) if rng.random() < style["truthful"] else int(rng.integers(0, 10))
        row["text"] = style["phrase"].format(w=WORDS[said], h=rng.choice(HEDGES))
        rows.append(row)
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


# The modes the README recommends by default (see its demo table): each must beat the best linear baseline.
RECOMMENDED = ("joint concat", "joint late", "joint gated", "sequential")
FEATURES = ["image_pixels", "audio_logmel", "text_minilm"]


def extract(root: Path, manifest: Path) -> Path:
    store = root / "store"
    for feature in FEATURES:
        # Rows without audio are error rows of audio_logmel ("missing field"), i.e. a missing modality.
        code = mmfeat(["extract", "--store", str(store), "--input", str(manifest),
                       "--feature", str(REPO / "features" / f"{feature}.yaml")])
        if code != 0:
            raise SystemExit(code)
    return store


def run_all(root: Path, store: Path, manifest: Path, fusions=("concat", "late", "gated", "lowrank"),
            sequential: bool = True) -> dict:
    """Train every mode on the same group split (whole people held out for val and test)."""
    from mmfeat.train.config import SelectConfig, TrainConfig
    from mmfeat.train.run import train

    base = TrainConfig.from_dict({
        "store": str(store), "features": FEATURES, "out": str(root / "runs"),
        "labels": {"path": str(manifest), "column": "label", "group_column": "person", "val": 0.15, "test": 0.25},
        **DEMO_SETTINGS})
    results = {}
    for fusion in fusions:
        cfg = dataclasses.replace(base, fusion=fusion, out=str(root / "runs" / f"joint_{fusion}"),
                                  select=SelectConfig(**DEMO_SELECT))
        results[f"joint {fusion}"] = train(cfg, progress=False)
    if sequential:
        seq = dataclasses.replace(base, mode="sequential", out=str(root / "runs" / "sequential"),
                                  select=SelectConfig(**DEMO_SELECT))
        results["sequential"] = train(seq, progress=False)
    return results


DEMO_SETTINGS = {"hidden": 64, "epochs": 150, "patience": 15, "modality_dropout": 0.3, "dropout": 0.5,
                 "weight_decay": 0.01, "folds": 3}


# Joint models pick linear or 64-wide adapters and modality dropout on the val people, then refit on
# train + val people (select); the measured gain over a single fit on fewer people is in the README.
# Sequential stages pick linear or 64-wide per stage on their out-of-fold outputs over train + val
# people (group folds); modality dropout does not apply to a one-modality stage.
DEMO_SELECT = {"hidden": [0, 64], "weight_decay": [0.01], "dropout": [0.5], "modality_dropout": [0.0, 0.3]}


def comparison(results: dict) -> str:
    """Linear baselines next to every fused model, all on the held-out people's test rows."""
    first = next(iter(results.values()))
    counts = first["counts"]
    lines = [f"groups (people) per split: {counts['groups']}; test rows {counts['n_test']}",
             f"\n{'model (test split, unseen people)':<34}{'n':>6}{'accuracy':>10}{'macro_f1':>10}{'ece':>8}"]
    for name, m in first.get("baselines", {}).items():
        t = m["test"]
        lines.append(f"{'linear ' + name:<34}{t['n']:>6}{t['accuracy']:>10.3f}{t['macro_f1']:>10.3f}{t['ece']:>8.3f}")
    for name, m in results.items():
        t, v = m["test"], m.get("verdict", {})
        mark = f"  {v['margin']:+.3f} vs best baseline" if v else ""
        lines.append(f"{name:<34}{t['n']:>6}{t['accuracy']:>10.3f}{t['macro_f1']:>10.3f}{t['ece']:>8.3f}{mark}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="demo_out")
    ap.add_argument("--reuse-store", action="store_true", help="keep OUT/store and its manifest (train only)")
    args = ap.parse_args()
    import torch

    # The demo's models are small (batches of 256 rows, widths of 64; MiniLM on short texts): one thread
    # does them about as fast, and on a shared 2-core machine two threads spinning against other
    # processes were 3-15x slower (measured: the sequential run 130-240 s with two threads, 17 s with
    # one; MiniLM extraction 6-23 s with two, 7.5 s with one; same figures).
    torch.set_num_threads(1)
    root = Path(args.out)
    manifest = root / "manifest.jsonl"
    started = time.perf_counter()
    if args.reuse_store and manifest.exists():
        shutil.rmtree(root / "runs", ignore_errors=True)
        store = root / "store"
        from mmfeat.store import FeatureStore

        shutil.rmtree(FeatureStore(store).set_dir("digit_probs"), ignore_errors=True)  # written by another model
    else:
        if root.exists():
            shutil.rmtree(root)
        store = extract(root, generate(root))
    extracted = time.perf_counter()
    results = run_all(root, store, manifest)
    trained = time.perf_counter()
    print(comparison(results))
    verdicts = {name: m["verdict"] for name, m in results.items()}
    best = max(results, key=lambda k: results[k]["test"]["accuracy"])
    print(f"\nbest fused model: {best} ({results[best]['test']['accuracy']:.3f}); plots in {root}/runs/*/plots/")
    # The best model's calibrated probabilities go back into the store as a feature set, with lineage.
    run_dir = root / "runs" / ("sequential" if best == "sequential" else f"joint_{best.split()[-1]}")
    code = mmfeat(["predict", str(run_dir), "--name", "digit_probs"])
    if code != 0:
        raise SystemExit(code)
    print(f"seconds: generate + extract {extracted - started:.1f}, train {len(results)} runs "
          f"{trained - extracted:.1f}, predict {time.perf_counter() - trained:.1f}")
    failed = [name for name in RECOMMENDED if not verdicts[name].get("beats")]
    if failed:
        raise SystemExit(f"recommended mode(s) {', '.join(failed)} did not beat the best linear baseline")


if __name__ == "__main__":
    main()
