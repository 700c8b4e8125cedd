#!/usr/bin/env bash
# Side-by-side benchmark: `poolscreen run` against a DuckDB SQL reference doing the same
# heavy work (reference.sql), on rounds of several shapes made by `poolscreen generate`.
#
#   benches/compare/run.sh                          # every shape below
#   benches/compare/run.sh time-1m tube-1m          # some shapes
#   REPEAT=5 benches/compare/run.sh                 # alternating repetitions (default 3)
#
# A shape is NAME:PEOPLE:ORDER:BUILDINGS[:ROSTER[:POOL[:PREVALENCE[:SAMPLED[:SAVED]]]]]. ORDER is
# generate's --order: `tube` (grouped by tube, buildings one after another: a friendly
# export), `time` (by sampling time: tubes of many buildings interleave, as a city
# platform exports) or `shuffled`. ROSTER is generate's --roster-order (`building`, the
# default, or `shuffled`). POOL is generate's --pool-size (10 when not given).
# PREVALENCE is generate's --prevalence (its default when not given): an outbreak's
# retest list is a tenth of the city. SAMPLED is the share of the sample rows read, the
# first in time order, with the results of their tubes only (midday.py): the round as
# the data office reads it at midday, the rest of the city on the missing list. SAVED
# `quoted` saves the round's files again with every value quoted and CRLF line ends
# (quote_all.py), as many platform exports write them; `gb18030` saves a copy in
# GB18030 (save_encoded.py), as Excel saves "CSV" on Chinese Windows, and `utf16` one in
# UTF-16LE with its byte-order mark, which poolscreen reads (and the read floor), while
# DuckDB and the parse floor read the UTF-8 originals; `rooms` saves the roster with
# each room named after its building (name_rooms.py: `公寓12-305`), so that no two
# buildings share a room's name and a city names millions of rooms.
# ORDER `foreign` is a round written by foreign.py instead of `poolscreen generate`, in
# shapes generate never writes, its samples by sampling time; `foreign-tube` is the same
# round with its samples grouped by tube (BUILDINGS and the fields after it are not
# used: its buildings' sizes are drawn). Its pools hold 10 or 20 people, so both tools
# run it with a pool size of 20; a round is written again when foreign.py changes.
#
# For each shape: generate the round (seed 42) unless it was made with the same
# arguments; then, REPEAT times in turn, time the read floor (cat of the inputs poolscreen
# reads), the parse floor (DuckDB counting the rows of the three files DuckDB reads: a
# GB18030 or UTF-16 round's UTF-8 originals), poolscreen (every output
# of the contract) and DuckDB's reference, each with /usr/bin/time -v; check that
# poolscreen and DuckDB give the same per-building figures and retest and missing sets; up
# to 1 M people, check that --threads 1, 2 and 4 give byte-identical tables and workbooks.
# The measured section of BENCHMARKS.md (between its compare markers) is rewritten; the
# rest of the file is left as it is. DuckDB comes from PyPI into a virtual environment
# made here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${WORK:-$root/target/compare}
repeat=${REPEAT:-3}
all_shapes=(
  campus-30k:30000:time:28
  tube-1m:1000000:tube:28
  time-1m:1000000:time:10000
  shuffled-1m:1000000:shuffled:10000
  tube-10m:10000000:tube:28
  time-10m:10000000:time:10000
  shuffled-10m:10000000:shuffled:10000
  roster-shuffled-1m:1000000:time:10000:shuffled
  roster-shuffled-10m:10000000:time:10000:shuffled
  single-10m:10000000:time:10000:building:1
  outbreak-10m:10000000:time:10000:building:10:0.01
  midday-10m:10000000:time:10000:building:10::0.5
  quoted-1m:1000000:time:10000:building:10:::quoted
  quoted-10m:10000000:time:10000:building:10:::quoted
  gbk-1m:1000000:time:10000:building:10:::gb18030
  gbk-10m:10000000:time:10000:building:10:::gb18030
  utf16-1m:1000000:time:10000:building:10:::utf16
  utf16-10m:10000000:time:10000:building:10:::utf16
  rooms-10m:10000000:time:10000:building:10:::rooms
  households-10m:10000000:time:1000000
  households-shuffled-10m:10000000:time:1000000:shuffled
  rooms-shuffled-10m:10000000:time:10000:shuffled:10:::rooms
  foreign-tube-1m:1000000:foreign-tube:0
  foreign-1m:1000000:foreign:0
  foreign-tube-10m:10000000:foreign-tube:0
  foreign-10m:10000000:foreign:0
)
source "$here/../shapes.sh"
pick_shapes "$@"
mkdir -p "$work"

command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
cargo build --release --manifest-path "$root/Cargo.toml" >&2
bin=$root/target/release/poolscreen
if [ ! -x "$work/venv/bin/python" ]; then python3 -m venv "$work/venv"; fi
"$work/venv/bin/pip" install --quiet "duckdb==2.0.1" >&2
py=$work/venv/bin/python

for shape in "${shapes[@]}"; do
  IFS=: read -r name n order buildings roster pool prevalence sampled saved <<< "$shape"
  case "${saved:-}" in
    "" | quoted | gb18030 | utf16 | rooms) ;;
    *) echo "shape $name: SAVED is quoted, gb18030, utf16 or rooms, not $saved" >&2; exit 2 ;;
  esac
  data=$work/round-$name
  # A round is made again unless it was made with these very arguments (a folder left
  # by an older version of this script may hold another shape under the same name).
  args=(--people "$n" --buildings "$buildings" --order "$order" --roster-order "${roster:-building}" --seed 42)
  if [ -n "${pool:-}" ]; then args+=(--pool-size "$pool"); fi
  if [ -n "${prevalence:-}" ]; then args+=(--prevalence "$prevalence"); fi
  made="${args[*]}${sampled:+ sampled $sampled}${saved:+ saved $saved}"
  case "$order" in
    foreign) written=time ;;
    foreign-tube) written=tube ;;
    *) written= ;;
  esac
  run_args=()
  if [ -n "$written" ]; then
    made="foreign.py $n 42 $written $(sha256sum "$here/foreign.py" | cut -c1-16)"
    run_args=(--pool-size 20)
  fi
  if [ ! -f "$data/results.csv" ] || [ "$(cat "$work/round-$name.args" 2>/dev/null)" != "$made" ]; then
    rm -rf "$data" "$data.whole"
    if [ -n "$written" ]; then
      python3 "$here/foreign.py" "$data" "$n" 42 "$written" >&2
    elif [ -n "${sampled:-}" ]; then
      "$bin" generate --out "$data.whole" "${args[@]}" >&2
      python3 "$here/midday.py" "$data.whole" "$data" "$sampled"
      rm -rf "$data.whole"
    else
      "$bin" generate --out "$data" "${args[@]}" >&2
    fi
    if [ "${saved:-}" = quoted ]; then python3 "$here/quote_all.py" "$data"; fi
    if [ "${saved:-}" = rooms ]; then python3 "$here/name_rooms.py" "$data"; fi
    case "${saved:-}" in
      gb18030 | utf16) python3 "$here/save_encoded.py" "$data" "$saved" ;;
    esac
    echo "$made" > "$work/round-$name.args"
  fi
  inputs=("$data/roster.csv" "$data/samples.csv" "$data/results.csv")
  # What poolscreen reads: the round's files, or their copy in GB18030 or UTF-16, and
  # the encoding its manifest must name for them.
  ps=("${inputs[@]}")
  case "${saved:-}" in
    gb18030 | utf16)
      ps=("$data/$saved/roster.csv" "$data/$saved/samples.csv" "$data/$saved/results.csv")
      ;;
  esac
  case "${saved:-}" in
    gb18030) encoding=GB18030 ;;
    utf16) encoding=UTF-16LE ;;
    *) encoding= ;;
  esac
  for i in $(seq 1 "$repeat"); do
    echo "$name, run $i of $repeat" >&2
    /usr/bin/time -v -o "$work/floor-$name-$i.txt" cat "${ps[@]}" > /dev/null
    /usr/bin/time -v -o "$work/parse-$name-$i.txt" \
      "$py" "$here/parse_floor.py" "${inputs[@]}" > "$work/rows-$name.txt"
    rm -rf "$work/ps-$name"
    POOLSCREEN_TIMINGS=1 /usr/bin/time -v -o "$work/ps-$name-$i.txt" \
      "$bin" run --roster "${ps[0]}" --samples "${ps[1]}" --results "${ps[2]}" \
      "${run_args[@]}" --out "$work/ps-$name" --quiet 2> "$work/stages-$name-$i.txt"
    rm -rf "$work/duck-$name"
    /usr/bin/time -v -o "$work/duck-$name-$i.txt" \
      "$py" "$here/duckdb_run.py" "$here/reference.sql" "$data" "$work/duck-$name"
  done
  if [ -n "$encoding" ]; then
    # The copy must have been read in its encoding, not taken for another.
    "$py" -c 'import json, sys
encodings = {i["encoding"] for i in json.load(open(sys.argv[1]))["inputs"]}
sys.exit(0 if encodings == {sys.argv[2]} else f"read as {encodings}, not {sys.argv[2]}")' "$work/ps-$name/manifest.json" "$encoding"
  fi
  "$py" "$here/check.py" "$work/ps-$name" "$work/duck-$name" > "$work/check-$name.txt"
  rm -f "$work/threads-$name.txt"
  if [ "$n" -le 1000000 ]; then
    for t in 1 2 4; do
      rm -rf "$work/threads-$t"
      "$bin" run --roster "${ps[0]}" --samples "${ps[1]}" --results "${ps[2]}" \
        "${run_args[@]}" --out "$work/threads-$t" --threads "$t" --quiet
    done
    same=yes
    for f in buildings.parquet retest.parquet retest.csv retest.xlsx missing.parquet missing.xlsx \
      tubes.parquet anomalies.parquet people.parquet closure.parquet rejects.csv report.html; do
      cmp -s "$work/threads-1/$f" "$work/threads-2/$f" && cmp -s "$work/threads-1/$f" "$work/threads-4/$f" || same=no
    done
    echo "$same" > "$work/threads-$name.txt"
  fi
done

"$py" "$here/report.py" "$work" "$repeat" "$root/BENCHMARKS.md" "${shapes[@]}"
echo "rewrote the measured section of $root/BENCHMARKS.md" >&2
