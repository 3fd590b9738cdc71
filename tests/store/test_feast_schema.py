"""A feature set's data directory has what a Feast FileSource needs: an entity key and an event timestamp."""
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from mmfeat import FeatureStore
from tests.store_factory import put


def test_data_directory_schema_fits_a_feast_file_source(tmp_path):
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=4)
    put(store, "px", [f"i{k}" for k in range(10)], np.ones((10, 4), np.float32))
    # What Feast's FileSource reads: the Parquet files under data/, without mmfeat.
    table = ds.dataset(store.set_dir("px") / "data", format="parquet", partitioning="hive").to_table()
    schema = table.schema
    assert schema.field("id").type == pa.string()
    assert schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_fixed_size_list(schema.field("embedding").type)
    assert table["event_timestamp"].null_count == 0 and table.num_rows == 10
