#!/usr/bin/env bash
# Times `poolscreen assign --pool-size 10` (every file written: plan.parquet, plan.csv,
# plan.xlsx) on rosters made by `poolscreen generate` (seed 42): 1,000,000 people in
# 1,000 buildings, and 10,000,000 people in 10,000 buildings with the roster's rows in
# building order and in no order. Each roster is timed three times in turn; prints a
# Markdown table for BENCHMARKS.md (median wall, the range, CPU, peak RSS, the files'
# sizes) and, under it, the stage times of each roster's median run.
#
#   bash benches/assign/run.sh [SHAPE ...]     shapes: 1m 10m 10m-shuffled
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v /usr/bin/time > /dev/null || { echo "needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
cargo build --release --quiet
bin=$PWD/target/release/poolscreen
work=target/bench-assign
mkdir -p "$work"

# NAME:PEOPLE:BUILDINGS:ROSTER-ORDER
all_shapes=(1m:1000000:1000:building 10m:10000000:10000:building 10m-shuffled:10000000:10000:shuffled)
source benches/shapes.sh
pick_shapes "$@"

median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
echo "| roster | people | wall (median of 3) | range | CPU user + sys (median run) | peak RSS | plan.csv | plan.xlsx | plan.parquet |"
echo "|---|---|---|---|---|---|---|---|---|"
stages=""
for shape in "${shapes[@]}"; do
    IFS=: read -r name people buildings order <<< "$shape"
    data=$work/round-$name
    if [ ! -f "$data/roster.csv" ]; then
        "$bin" generate --out "$data" --people "$people" --buildings "$buildings" \
            --roster-order "$order" --seed 42 2> /dev/null
    fi
    walls=()
    for i in 1 2 3; do
        rm -rf "$work/plan-$name"
        POOLSCREEN_TIMINGS=1 /usr/bin/time -f "%e %U %S %M" -o "$work/time-$name-$i" \
            "$bin" assign --roster "$data/roster.csv" --pool-size 10 --out "$work/plan-$name" \
            --quiet 2> "$work/stages-$name-$i"
        walls+=("$(cut -d' ' -f1 "$work/time-$name-$i")")
    done
    mid=$(median "${walls[@]}")
    for i in 1 2 3; do
        read -r wall user sys peak < "$work/time-$name-$i"
        if [ "$wall" = "$mid" ]; then break; fi
    done
    lo=$(printf '%s\n' "${walls[@]}" | sort -g | head -1)
    hi=$(printf '%s\n' "${walls[@]}" | sort -g | tail -1)
    size() { echo "$(( ($(stat -c %s "$work/plan-$name/$1") + 500000) / 1000000 )) MB"; }
    echo "| $name ($order order) | $people | $mid s | $lo–$hi s | $user + $sys s | $(( peak / 1024 )) MB | $(size plan.csv) | $(size plan.xlsx) | $(size plan.parquet) |"
    stages+="$name: $(sed -E 's/poolscreen: stage +([a-z.]+) +([0-9.]+) s.*/\1 \2 s,/' "$work/stages-$name-$i" | tr '\n' ' ')"$'\n'
done
echo
echo "Stages of the median run (POOLSCREEN_TIMINGS=1; the three files are written side by side, \"files\" is all three):"
echo
printf '%s' "$stages" | sed 's/, $//; s/^/- /'
