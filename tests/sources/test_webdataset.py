"""WebDatasetSource: grouping like webdataset, text members, refused pickles, corrupt and gzipped shards."""
import gzip

import pytest
import webdataset as wds

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow
from mmfeat.sources.select import open_source
from mmfeat.sources.webdataset import WebDatasetSource, unsafe_name
from mmfeat.spec import FeatureSpec
from tests.media_factory import write_tar


def rows(source):
    return [row for shard in source.list_shards() for row in source.read_shard(shard)]


def test_grouping_matches_the_webdataset_library(tmp_path):
    shard = write_tar(tmp_path / "s.tar", [
        ("x/a.txt", b"first"), ("x/a.cls", b"1"), ("x/c.txt", b"second"), ("__meta__", b"skip"),
        ("d.txt", b"third"),
    ])
    ours = rows(WebDatasetSource(str(shard), column="txt", modality="text"))
    theirs = [(s["__key__"], s["txt"]) for s in wds.WebDataset(str(shard), shardshuffle=False).decode()]
    assert [(r.id, r.value) for r in ours] == theirs == [("x/a", "first"), ("x/c", "second"), ("d", "third")]
    assert [r.line for r in ours] == [1, 2, 3]


def test_alternative_extensions_text_decoding_and_missing_members(tmp_path):
    shard = write_tar(tmp_path / "s.tar", [
        ("a.jpeg", b"J"), ("b.png", b"P"), ("c.cls", b"0"), ("d.txt", b"\xff\xfe bad"),
    ])
    got = rows(WebDatasetSource(str(shard), column="jpg;jpeg;png"))
    assert [(type(r).__name__, r.id) for r in got] == [("Record", "a"), ("Record", "b"), ("ErrorRow", "c"),
                                                       ("ErrorRow", "d")]
    text = rows(WebDatasetSource(str(shard), column="txt", modality="text"))[-1]
    assert isinstance(text, ErrorRow) and "not valid utf-8" in text.reason


def test_pickled_columns_are_refused_up_front():
    with pytest.raises(MmfeatError, match="never"):
        WebDatasetSource("x.tar", column="pyd")


def test_unsafe_names():
    assert unsafe_name("/etc/passwd") and unsafe_name("a/../../b.png") and unsafe_name("C:evil.png")
    assert not unsafe_name("a/b..c.png") and not unsafe_name("dir/x.png")


def test_truncated_shard_keeps_what_came_before_and_reports_the_rest(tmp_path):
    members = [(f"k{i}.txt", b"x" * 2000) for i in range(5)]
    data = write_tar(tmp_path / "full.tar", members).read_bytes()
    # Each member is a 512-byte header plus 2048 bytes of data: cut inside k1's data.
    (tmp_path / "cut.tar").write_bytes(data[:4700])
    got = rows(WebDatasetSource(str(tmp_path / "cut.tar"), column="txt", modality="text"))
    assert [(type(r).__name__, r.id) for r in got] == [("Record", "k0"), ("ErrorRow", f"{tmp_path}/cut.tar:3072")]
    assert "truncated or corrupt after 1 samples at byte 3072" in got[-1].reason
    (tmp_path / "junk.tar").write_bytes(b"definitely not a tar archive" * 40)
    got = rows(WebDatasetSource(str(tmp_path / "junk.tar"), column="txt"))
    assert len(got) == 1 and isinstance(got[0], ErrorRow) and got[0].stage == "read"


def test_gzipped_shards_globs_and_auto_selection(tmp_path):
    data = write_tar(tmp_path / "plain.tar", [("a.txt", b"hello")]).read_bytes()
    (tmp_path / "one.tar.gz").write_bytes(gzip.compress(data))
    (tmp_path / "two.tgz").write_bytes(gzip.compress(data.replace(b"hello", b"howdy")))
    spec = FeatureSpec.from_dict({"name": "t", "modality": "text", "input": {"column": "txt"},
                                  "encoder": {"kind": "hf-text", "model": "unused"}})
    source = open_source([str(tmp_path / "*.tar.gz"), str(tmp_path / "two.tgz")], spec)
    assert isinstance(source, WebDatasetSource)
    assert [r.value for r in rows(source)] == ["hello", "howdy"]
    with pytest.raises(MmfeatError, match="no tar shard matches"):
        WebDatasetSource(str(tmp_path / "x-{0..1}.tar"), column="txt").list_shards()
