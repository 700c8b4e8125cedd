"""Reads every Parquet output of poolscreen runs with the pyarrow and pandas installed
in the running Python, and does what their users do with them: filter, sort, join,
and load into pandas (NumPy and pyarrow back ends). Exits non-zero on the first
output that cannot be used.

Usage: python tests/readers/check_parquet.py OUT_DIR [OUT_DIR ...]
"""

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def check_types(path: Path, table: pa.Table) -> None:
    for field in table.schema:
        t = field.type
        if pa.types.is_timestamp(t):
            assert t.unit == "us" and t.tz == "Asia/Shanghai", f"{path}: {field}"
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            assert t == pa.string(), f"{path}: {field.name} is {t}, not string"
        else:
            assert t in (pa.int64(), pa.float64(), pa.bool_()), f"{path}: {field}"


def check_folder(out: Path) -> int:
    files = sorted(out.glob("*.parquet"))
    assert files, f"{out}: no Parquet outputs"
    for path in files:
        table = pq.read_table(path)
        check_types(path, table)
        # Sort by every string column, as a user sorting a list would.
        keys = [(f.name, "ascending") for f in table.schema if f.type == pa.string()]
        if keys and table.num_rows:
            table.sort_by(keys)
        frame = pd.read_parquet(path)
        assert len(frame) == table.num_rows, path
        arrow_backed = pd.read_parquet(path, dtype_backend="pyarrow")
        if "round" in arrow_backed.columns and len(arrow_backed):
            arrow_backed.sort_values(["round"]).groupby("round").size()
    retest = out / "retest.parquet"
    buildings = out / "buildings.parquet"
    everyone = pq.read_table(retest)
    acting = pq.read_table(retest, filters=[("action", "=", "isolate_and_retest")])
    expected = pc.sum(pc.equal(everyone["action"], "isolate_and_retest")).as_py() or 0
    assert acting.num_rows == expected, (acting.num_rows, expected)
    filtered = pd.read_parquet(retest, filters=[("action", "in", ["report", "retest"])])
    assert all(filtered["action"].isin(["report", "retest"]))
    joined = everyone.join(pq.read_table(buildings), keys=["round", "building"])
    assert joined.num_rows == everyone.num_rows, (joined.num_rows, everyone.num_rows)
    tubes = pd.read_parquet(out / "tubes.parquet", dtype_backend="pyarrow")
    merged = pd.read_parquet(retest).merge(
        tubes[["round", "tube_id", "first_sampled_at"]], on=["round", "tube_id"]
    )
    assert len(merged) == everyone.num_rows
    return len(files)


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]]
    total = sum(check_folder(f) for f in folders)
    print(
        f"pyarrow {pa.__version__}, pandas {pd.__version__}: "
        f"{total} Parquet files in {len(folders)} folders read, filtered, sorted and joined"
    )


if __name__ == "__main__":
    main()
