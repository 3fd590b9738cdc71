"""Damaged and hostile tar shards: every sample is a Record or an ErrorRow, damage is never silent."""
import gzip
import io
import tarfile

from mmfeat.records import ErrorRow, Record
from mmfeat.sources.webdataset import WebDatasetSource
from tests.media_factory import write_tar


def rows(path, **kw):
    source = WebDatasetSource(str(path), column=kw.pop("column", "txt"), modality=kw.pop("modality", "text"), **kw)
    return [row for shard in source.list_shards() for row in source.read_shard(shard)]


def twenty(tmp_path):
    return write_tar(tmp_path / "full.tar", [(f"s{i:02d}.txt", f"sample {i}".encode() * 50) for i in range(20)])


def summary(got):
    records = [r for r in got if isinstance(r, Record)]
    errors = [r for r in got if isinstance(r, ErrorRow)]
    return len(records), errors


def test_tar_truncated_halfway_leaves_a_shard_error_row(tmp_path):
    data = twenty(tmp_path).read_bytes()
    (tmp_path / "half.tar").write_bytes(data[: len(data) // 2])
    n, errors = summary(rows(tmp_path / "half.tar"))
    assert 0 < n < 20 and len(errors) == 1
    assert errors[0].stage == "read" and f"truncated or corrupt after {n} samples at byte" in errors[0].reason
    assert errors[0].id.startswith(str(tmp_path / "half.tar") + ":")


def test_tar_cut_inside_a_member_header(tmp_path):
    data = twenty(tmp_path).read_bytes()
    cut = 5 * 1024 + 100  # each member is one 512-byte header plus 512 data bytes: inside the 6th header
    (tmp_path / "cut.tar").write_bytes(data[:cut])
    n, errors = summary(rows(tmp_path / "cut.tar"))
    assert n == 5 and len(errors) == 1 and "cut inside a member header" in errors[0].reason


def test_tar_cut_on_a_member_boundary_is_caught_by_the_missing_end_marker(tmp_path):
    data = twenty(tmp_path).read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: 7 * 1024])
    n, errors = summary(rows(tmp_path / "cut.tar"))
    assert n == 7 and len(errors) == 1 and "end-of-archive" in errors[0].reason


def test_gzip_with_a_flipped_byte_leaves_an_error_row(tmp_path):
    packed = bytearray(gzip.compress(twenty(tmp_path).read_bytes()))
    packed[len(packed) // 2] ^= 0xFF
    (tmp_path / "bad.tar.gz").write_bytes(bytes(packed))
    n, errors = summary(rows(tmp_path / "bad.tar.gz"))
    assert n < 20 and len(errors) >= 1 and "truncated or corrupt" in errors[-1].reason


def test_clean_tars_have_no_error_rows(tmp_path):
    path = twenty(tmp_path)
    (tmp_path / "ok.tar.gz").write_bytes(gzip.compress(path.read_bytes()))
    assert summary(rows(path)) == (20, []) and summary(rows(tmp_path / "ok.tar.gz")) == (20, [])


def test_links_and_special_members_are_error_rows_never_followed(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name, data=b"", **attrs):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for key, value in attrs.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data))
        add("a.txt", b"real")
        add("b.txt", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        add("c.txt", type=tarfile.LNKTYPE, linkname="a.txt")
        add("d.txt", type=tarfile.FIFOTYPE)
        add("e.txt", b"fine")
    (tmp_path / "links.tar").write_bytes(buf.getvalue())
    got = rows(tmp_path / "links.tar")
    assert sorted((type(r).__name__, r.id.rsplit(":", 1)[-1]) for r in got) == [
        ("ErrorRow", "b.txt"), ("ErrorRow", "c.txt"), ("ErrorRow", "d.txt"), ("Record", "a"), ("Record", "e")]
    reasons = {r.id.rsplit(":", 1)[-1]: r.reason for r in got if isinstance(r, ErrorRow)}
    assert "symlink" in reasons["b.txt"] and "/etc/passwd" in reasons["b.txt"] and "hardlink" in reasons["c.txt"]
    assert "FIFO" in reasons["d.txt"]


def test_oversized_member_is_refused_from_its_header_without_reading_it(tmp_path):
    """A 64 MiB member of zeros gzips to ~64 KiB; with max_bytes 1 MiB it is skipped in small reads."""
    from tests.media_factory import Zeros

    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BufferedReader(Zeros(info.size)))
        small = tarfile.TarInfo("small.bin")
        small.size = 3
        tar.addfile(small, io.BytesIO(b"abc"))
    (tmp_path / "bomb.tar.gz").write_bytes(raw.getvalue())
    assert len(raw.getvalue()) < 1024 * 1024
    got = rows(tmp_path / "bomb.tar.gz", column="bin", modality="image", max_bytes=1024 * 1024)
    assert [(type(r).__name__, r.id) for r in got] == [("ErrorRow", "big"), ("Record", "small")]
    assert "refused from its header" in got[0].reason


def test_fetch_by_ref_round_trips_and_gzip_refs_are_none(tmp_path):
    path = write_tar(tmp_path / "s.tar", [(f"k{i}.{ext}", f"{i}{ext}".encode())
                                          for i in range(30) for ext in ("txt", "cls")])
    source = WebDatasetSource(str(path), column="txt", modality="text")
    records = list(source.read_shard(str(path)))
    assert all(isinstance(r, Record) and r.ref % 512 == 0 for r in records)
    picked = records[1::4]
    assert list(source.fetch(str(path), [r.ref for r in picked])) == picked
    (tmp_path / "s.tar.gz").write_bytes(gzip.compress(path.read_bytes()))
    assert all(r.ref is None for r in source.read_shard(str(tmp_path / "s.tar.gz")))


def test_undecodable_member_names_give_encodable_error_ids(tmp_path):
    with tarfile.open(tmp_path / "names.tar", "w", encoding="utf-8", errors="surrogateescape") as tar:
        for name, kind in (("bad\udcff.txt", tarfile.REGTYPE), ("link\udcff.txt", tarfile.SYMTYPE),
                           ("ok.txt", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.size = kind, 2 if kind == tarfile.REGTYPE else 0
            info.linkname = "x" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info, io.BytesIO(b"hi") if kind == tarfile.REGTYPE else None)
    got = rows(tmp_path / "names.tar")
    assert sorted(type(r).__name__ for r in got) == ["ErrorRow", "ErrorRow", "Record"]
    for row in got:
        row.id.encode("utf-8")
        getattr(row, "reason", "").encode("utf-8")


def test_long_member_names_in_pax_and_gnu_formats(tmp_path):
    name = "deep/" * 40 + "sample.txt"
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        path = tmp_path / f"long{fmt}.tar"
        with tarfile.open(path, "w", format=fmt) as tar:
            info = tarfile.TarInfo(name)
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
        got = rows(path)
        assert [(r.id, r.value) for r in got] == [(name[:-4], "hello")]
