"""Reads a poolscreen history folder by glob, as its users do, with DuckDB and with
polars: every round's people table from `DIR/rounds/*/people.parquet` at once, each
file carrying its own round column. Exits non-zero when either disagrees with the
per-round files.

Usage: python tests/readers/check_history_glob.py HISTORY_DIR
"""

import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq


def main() -> None:
    history = Path(sys.argv[1])
    files = sorted(history.glob("rounds/*/people.parquet"))
    assert len(files) >= 2, f"{history}: {len(files)} rounds"
    expected = {}
    for f in files:
        table = pq.read_table(f, columns=["round"])
        rounds = set(table.column("round").to_pylist())
        assert len(rounds) == 1, f"{f}: one round a file"
        expected[rounds.pop()] = table.num_rows
    pattern = str(history / "rounds" / "*" / "people.parquet")
    by_duckdb = dict(
        duckdb.sql(
            f"SELECT round, count(*) FROM read_parquet('{pattern}') GROUP BY round"
        ).fetchall()
    )
    assert by_duckdb == expected, (by_duckdb, expected)
    frame = pl.read_parquet(pattern)
    by_polars = dict(frame.group_by("round").len().iter_rows())
    assert by_polars == expected, (by_polars, expected)
    missing = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{pattern}') WHERE outcome = 'missing'"
    ).fetchall()[0][0]
    print(
        f"duckdb {duckdb.__version__}, polars {pl.__version__}: {len(files)} rounds, "
        f"{sum(expected.values())} person-rounds ({missing} missing) read by glob"
    )


if __name__ == "__main__":
    main()
