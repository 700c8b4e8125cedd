"""Runs reference.sql with DuckDB on DATA_DIR, writing Parquet into OUT_DIR."""
import os
import sys

import duckdb

sql_path, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
sql = open(sql_path, encoding="utf-8").read().replace("{data}", data).replace("{out}", out)
con = duckdb.connect()
con.execute(sql)
