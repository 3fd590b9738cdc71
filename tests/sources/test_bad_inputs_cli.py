"""Bad inputs through the real ``mmfeat extract`` (DirectRunner): every row is stored or an error row."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.media_factory import write_image, write_tar

pytestmark = pytest.mark.slow


def extract(tmp_path, spec, *inputs):
    run = subprocess.run([sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(tmp_path / "store"),
                          "--feature", str(spec), *[a for i in inputs for a in ("--input", str(i))]],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def errors(tmp_path, name):
    out = tmp_path / f"{name}-errors.parquet"
    subprocess.run([sys.executable, "-m", "mmfeat.cli", "read", name, "--store", str(tmp_path / "store"), "--errors",
                    "--out", str(out)], check=True, capture_output=True, timeout=120)
    return pd.read_parquet(out)


def test_text_manifests_with_bad_bytes_surrogates_and_broken_quotes(tmp_path, tiny_spec):
    lines = [f'{{"id": "r{i}", "text": "row number {i}"}}\n'.encode() for i in range(1, 1001)]
    lines[500] = '{"id": "r501", "text": "caf\xe9"}\n'.encode("latin-1")
    lines[700] = b'{"id": "r701", "text": "a\\ud800b"}\n'
    (tmp_path / "m.jsonl").write_bytes(b"\xef\xbb\xbf" + b"".join(lines))
    spec = tmp_path / "split.yaml"  # tiny shards: the manifest is read by many tasks
    spec.write_text(tiny_spec.read_text().replace("column: text", "column: text\n  shard_bytes: 4096"))
    report = extract(tmp_path, spec, tmp_path / "m.jsonl")
    assert (report["n_input"], report["n_ok"], report["n_error"]) == (1000, 998, 2)
    bad = errors(tmp_path, "tiny_text").sort_values("line")
    assert bad["line"].tolist() == [501, 701] and bad["stage"].tolist() == ["read", "validate"]

    big = "x" * 200_000
    (tmp_path / "m.csv").write_text(f'id,text\nc1,fine\nc2,"open\nc3,three\nc4,{big}\nc5,five\n')
    report = extract(tmp_path, spec, tmp_path / "m.csv")
    assert (report["n_input"], report["n_error"]) == (5, 2)


def test_media_inputs_that_are_not_files_and_damaged_tars(tmp_path):
    from PIL import Image

    from tests.conftest import REPO

    images = tmp_path / "img"
    images.mkdir()
    write_image(images / "ok.png", 1)
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(images / "deep.png")
    os.mkfifo(images / "fifo.png")
    (images / "dir.png").mkdir()
    rows = [{"id": n, "image": f"img/{n}"} for n in ("ok.png", "deep.png", "fifo.png", "dir.png")]
    rows.append({"id": "web", "image": "http://example.invalid/x.png"})
    pd.DataFrame(rows).to_parquet(tmp_path / "m.parquet")
    spec = REPO / "features" / "image_pixels.yaml"
    report = extract(tmp_path, spec, tmp_path / "m.parquet")
    assert (report["n_input"], report["n_ok"], report["n_error"]) == (5, 2, 3)

    members = [(f"s{i}.png", (images / "ok.png").read_bytes()) for i in range(10)]
    data = write_tar(tmp_path / "full.tar", members).read_bytes()
    (tmp_path / "half.tar").write_bytes(data[: len(data) // 2])
    tar_spec = tmp_path / "tar_pixels.yaml"
    tar_spec.write_text(spec.read_text().replace("name: image_pixels", "name: tar_pixels")
                        .replace("column: image ", "column: png "))
    report = extract(tmp_path, tar_spec, tmp_path / "half.tar")
    bad = errors(tmp_path, "tar_pixels")
    assert (report["n_input"], report["n_ok"], report["n_error"]) == (6, 5, 1)
    assert bad["reason"].str.contains("truncated or corrupt after 5 samples").tolist() == [True]


def test_an_id_in_two_shards_of_one_file_is_still_a_duplicate(tmp_path, tiny_spec):
    rows = [f'{{"id": "r{i}", "text": "text {i}"}}\n' for i in range(400)]
    rows.append('{"id": "r3", "text": "other text for r3"}\n')  # far from r3: another shard
    (tmp_path / "m.jsonl").write_text("".join(rows))
    spec = tmp_path / "split.yaml"
    spec.write_text(tiny_spec.read_text().replace("column: text", "column: text\n  shard_bytes: 2048"))
    from mmfeat.sources.select import open_source
    from mmfeat.spec import load_spec

    assert len(open_source(str(tmp_path / "m.jsonl"), load_spec(spec)).list_shards()) > 5
    report = extract(tmp_path, spec, tmp_path / "m.jsonl")
    assert report["n_input"] == 401 and report["n_ok"] == 399 and report["n_error"] == 2
    assert set(errors(tmp_path, "tiny_text")["id"]) == {"r3"}
