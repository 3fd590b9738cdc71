"""Folder and glob inputs for media sets: ids as a tar of the folder gives them, fetch by ref."""
import os
import tarfile

import pytest

from mmfeat.errors import MmfeatError
from mmfeat.records import Record
from mmfeat.sources.folder import FolderSource, glob_root
from mmfeat.sources.select import open_source
from mmfeat.sources.webdataset import WebDatasetSource
from mmfeat.spec import FeatureSpec
from tests.media_factory import write_image

SPEC = FeatureSpec.from_dict({"name": "p", "modality": "image", "input": {"column": "image"},
                              "encoder": {"kind": "pixels"}})


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    (root / "cats").mkdir(parents=True)
    (root / "dogs" / "big").mkdir(parents=True)
    for i, rel in enumerate(["cats/tom.jpg", "cats/felix.png", "dogs/rex.jpg", "dogs/big/max.v2.jpg", "top.png"]):
        write_image(root / rel, i)
    (root / "notes.txt").write_text("not an image")
    return root


def rows(source):
    return [row for shard in source.list_shards() for row in source.read_shard(shard)]


def test_directory_ids_match_a_tar_of_the_folder(tmp_path, photos):
    source = open_source(str(photos), SPEC)
    assert isinstance(source, FolderSource)
    got = rows(source)
    assert sorted(r.id for r in got) == ["cats/felix", "cats/tom", "dogs/big/max", "dogs/rex", "top"]
    assert all(isinstance(r, Record) and os.path.isfile(r.value) for r in got)
    with tarfile.open(tmp_path / "photos.tar", "w") as tar:  # cd photos && tar cf ../photos.tar *
        for name in sorted(os.listdir(photos)):
            tar.add(photos / name, arcname=name)
    # (max.v2.jpg's WebDataset extension is "v2.jpg", so the tar gives an error row, under the same key)
    tar_ids = [r.id for r in rows(WebDatasetSource(str(tmp_path / "photos.tar"), column="jpg;png"))
               if r.id != "notes"]  # the folder source skips non-image files
    assert sorted(tar_ids) == sorted(r.id for r in got)


def test_glob_ids_are_relative_to_the_glob_root(photos):
    got = rows(FolderSource(str(photos / "**" / "*.jpg"), column="image"))
    assert sorted(r.id for r in got) == ["cats/tom", "dogs/big/max", "dogs/rex"]
    assert glob_root(str(photos / "**" / "*.jpg")) == str(photos)


@pytest.mark.parametrize("style,want", [("__path__", "dogs/big/max.v2.jpg"), ("__stem__", "max")])
def test_id_styles(photos, style, want):
    got = rows(FolderSource(str(photos / "dogs" / "big"), column="image", id_column=style))
    assert [r.id for r in got] == [want.rsplit("/", 1)[-1] if style == "__path__" else want]
    assert rows(FolderSource(str(photos), column="image", id_column=style))


def test_fetch_and_errors(photos):
    source = FolderSource(str(photos), column="jpg")
    shard = source.list_shards()[0]
    records = list(source.read_shard(shard))
    assert [r.id for r in records] == ["cats/tom", "dogs/big/max", "dogs/rex"]
    assert list(source.fetch(shard, [records[2].ref, records[0].ref][::-1])) == [records[0], records[2]]
    with pytest.raises(MmfeatError, match="no .* files found"):
        FolderSource(str(photos / "*.gif"), column="image").list_shards()
    with pytest.raises(MmfeatError, match="id_column"):
        FolderSource(str(photos), column="image", id_column="name")


@pytest.mark.slow
def test_extract_a_folder_from_the_cli(tmp_path, photos):
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    run = subprocess.run([sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(tmp_path / "store"),
                          "--feature", str(REPO / "features" / "image_pixels.yaml"),
                          "--input", str(photos / "**" / "*.jpg")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n_ok"] == 3


def test_undecodable_file_names_are_error_rows_with_encodable_ids(tmp_path):
    root = tmp_path / "odd"
    root.mkdir()
    write_image(root / "fine.png", 0)
    (root / os.fsdecode(b"caf\xe9.png")).write_bytes((root / "fine.png").read_bytes())
    got = rows(FolderSource(str(root), column="image"))
    assert sorted(type(r).__name__ for r in got) == ["ErrorRow", "Record"]
    bad = next(r for r in got if not isinstance(r, Record))
    bad.id.encode("utf-8") and bad.source.encode("utf-8")
    assert "surrogate" in bad.reason
