"""The parse floor: DuckDB reads every row of each CSV given (all columns as text) and
counts them. Prints the counts."""
import sys

import duckdb

con = duckdb.connect()
for path in sys.argv[1:]:
    (rows,) = con.execute(
        "SELECT count(*) FROM read_csv(?, all_varchar = true, header = true)", [path]
    ).fetchone()
    print(path.rsplit("/", 1)[-1], rows)
