"""`mmfeat read --out` and `export-wds --overwrite` never touch files they did not write."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mmfeat.errors import MmfeatError
from mmfeat.export.table_file import write_table_file
from mmfeat.export.wds import export_wds
from mmfeat import FeatureStore
from tests.store_factory import put


def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    write_table_file(pa.table({"id": ["a"]}), str(link))
    assert victim.read_text() == "precious" and not link.is_symlink()
    assert pd.read_csv(link)["id"].tolist() == ["a"]


def test_csv_cells_a_spreadsheet_would_evaluate_are_neutralised(tmp_path):
    out = tmp_path / "ids.csv"
    write_table_file(pa.table({"id": ["=HYPERLINK(\"x\")", "+1", "plain", "@SUM(A1)"]}), str(out))
    assert pd.read_csv(out)["id"].tolist() == ["'=HYPERLINK(\"x\")", "'+1", "plain", "'@SUM(A1)"]
    write_table_file(pa.table({"id": ["=keep"]}), str(tmp_path / "ids.parquet"))  # Parquet keeps values
    assert pd.read_parquet(tmp_path / "ids.parquet")["id"].tolist() == ["=keep"]


def test_overwrite_replaces_an_earlier_export_and_refuses_to_delete_other_files(tmp_path):
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=2)
    put(store, "px", ["a", "b"], np.ones((2, 4), np.float32))
    out = tmp_path / "out"
    export_wds(store, ["px"], out)
    export_wds(store, ["px"], out, overwrite=True)  # an earlier export: replaced
    (out / "notes.txt").write_text("mine")
    with pytest.raises(MmfeatError, match="notes.txt"):
        export_wds(store, ["px"], out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    other = tmp_path / "other"
    other.mkdir()
    (other / "photo.jpg").write_bytes(b"x")
    with pytest.raises(MmfeatError, match="not an mmfeat export"):
        export_wds(store, ["px"], other, overwrite=True)
    assert (other / "photo.jpg").exists()
