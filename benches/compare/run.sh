#!/usr/bin/env bash
# Side-by-side benchmark: `poolscreen run` against a DuckDB SQL reference doing the same
# heavy work (reference.sql), on rounds made by `poolscreen generate`.
#
#   benches/compare/run.sh                      # 30,000, 1,000,000 and 10,000,000 people
#   benches/compare/run.sh 1000000              # one size
#   REPEAT=3 benches/compare/run.sh             # fewer alternating repetitions (default 5)
#
# For each size: generate the round (seed 42) if needed; then, REPEAT times in turn, time
# the read floor (cat of the inputs), poolscreen and DuckDB with /usr/bin/time -v; check
# that both give the same per-building figures and retest and missing sets; check that
# --threads 1, 2 and 4 give byte-identical tables and workbooks; write the medians and ratios to
# BENCHMARKS.md. DuckDB comes from PyPI into a virtual environment made here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${WORK:-$root/target/compare}
repeat=${REPEAT:-5}
if [ "$#" -gt 0 ]; then sizes=("$@"); else sizes=(30000 1000000 10000000); fi
mkdir -p "$work"

command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
cargo build --release --manifest-path "$root/Cargo.toml" >&2
bin=$root/target/release/poolscreen
if [ ! -x "$work/venv/bin/python" ]; then python3 -m venv "$work/venv"; fi
"$work/venv/bin/pip" install --quiet "duckdb==2.0.1" >&2
py=$work/venv/bin/python

for n in "${sizes[@]}"; do
  data=$work/round-$n
  if [ ! -f "$data/results.csv" ]; then
    "$bin" generate --out "$data" --people "$n" --seed 42 >&2
  fi
  inputs=("$data/roster.csv" "$data/samples.csv" "$data/results.csv")
  for i in $(seq 1 "$repeat"); do
    echo "size $n, run $i of $repeat" >&2
    /usr/bin/time -v -o "$work/floor-$n-$i.txt" cat "${inputs[@]}" > /dev/null
    rm -rf "$work/ps-$n"
    POOLSCREEN_TIMINGS=1 /usr/bin/time -v -o "$work/ps-$n-$i.txt" \
      "$bin" run --roster "${inputs[0]}" --samples "${inputs[1]}" --results "${inputs[2]}" \
      --out "$work/ps-$n" --quiet 2> "$work/stages-$n-$i.txt"
    rm -rf "$work/duck-$n"
    /usr/bin/time -v -o "$work/duck-$n-$i.txt" \
      "$py" "$here/duckdb_run.py" "$here/reference.sql" "$data" "$work/duck-$n"
  done
  "$py" "$here/check.py" "$work/ps-$n" "$work/duck-$n" > "$work/check-$n.txt"
  for t in 1 2 4; do
    rm -rf "$work/threads-$t"
    "$bin" run --roster "${inputs[0]}" --samples "${inputs[1]}" --results "${inputs[2]}" \
      --out "$work/threads-$t" --threads "$t" --quiet
  done
  same=yes
  for f in buildings.parquet retest.parquet retest.csv retest.xlsx missing.parquet missing.xlsx \
    tubes.parquet anomalies.parquet rejects.csv; do
    cmp -s "$work/threads-1/$f" "$work/threads-2/$f" && cmp -s "$work/threads-1/$f" "$work/threads-4/$f" || same=no
  done
  echo "$same" > "$work/threads-$n.txt"
done

"$py" "$here/report.py" "$work" "$repeat" "${sizes[@]}" > "$root/BENCHMARKS.md"
echo "wrote $root/BENCHMARKS.md" >&2
