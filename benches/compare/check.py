"""Checks that poolscreen and the DuckDB reference agree: per-building figures, the set
of people to retest (with their tube and action) and the set of missing people.
Prints what it compared; exits 1 on any difference."""
import sys

import duckdb

ps, duck = sys.argv[1], sys.argv[2]
con = duckdb.connect()
q = lambda sql: con.execute(sql).fetchall()

ACTIONS = {"report": 0, "isolate_and_retest": 1, "retest": 2, "resample": 3}
columns = "building, expected, on_leave, sampled, missing, tubes, positive_tubes, suspect_tubes, to_retest"
ours = q(f"SELECT {columns} FROM '{ps}/buildings.parquet' ORDER BY building")
theirs = q(f"SELECT {columns} FROM '{duck}/buildings.parquet' ORDER BY building")
retest_ours = set(q(f"SELECT person_id, tube_id, action FROM '{ps}/retest.parquet'"))
NAMES = {v: k for k, v in ACTIONS.items()}
retest_theirs = {(p, t, NAMES[a]) for p, t, a in q(f"SELECT person_id, tube_id, rank FROM '{duck}/retest.parquet'")}
missing_ours = set(q(f"SELECT person_id FROM '{ps}/missing.parquet'"))
missing_theirs = set(q(f"SELECT person_id FROM '{duck}/missing.parquet'"))

problems = []
if ours != theirs:
    problems.append(f"per-building figures differ:\n  poolscreen {ours[:3]}…\n  duckdb     {theirs[:3]}…")
if retest_ours != retest_theirs:
    problems.append(f"retest lists differ: {len(retest_ours ^ retest_theirs)} rows in one only")
if missing_ours != missing_theirs:
    problems.append(f"missing lists differ: {len(missing_ours ^ missing_theirs)} people in one only")
print(f"buildings {len(ours)} rows, retest {len(retest_ours)} people, missing {len(missing_ours)} people:",
      "identical" if not problems else "DIFFERENT")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
