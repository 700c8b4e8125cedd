#!/usr/bin/env bash
# Times `poolscreen history` over a campaign of ten rounds of a city of 1,000,000
# people in 1,000 buildings (generated from a seed, published with `run --history`),
# three times, and prints the median wall time, the peak memory and the size of one
# round's inputs as a Markdown table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
bin=$PWD/target/release/poolscreen
work=target/bench-history
rm -rf "$work"
mkdir -p "$work"
"$bin" generate --out "$work/gen" --people 1000000 --buildings 1000 --rounds 10 --seed 5 2> /dev/null
"$bin" run --roster "$work/gen/roster.csv" --samples "$work/gen/samples.csv" \
    --results "$work/gen/results.csv" --retests "$work/gen/retests.csv" \
    --out "$work/out" --history "$work/hist" --quiet
times=()
peaks=()
for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$bin" history --history "$work/hist" --out "$work/campaign" --quiet
    read -r t m < "$work/time"
    times+=("$t")
    peaks+=("$m")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
# One round's inputs: the roster and a tenth of the samples, results and retests.
round_bytes=$(( $(stat -c %s "$work/gen/roster.csv") + ( $(stat -c %s "$work/gen/samples.csv") + $(stat -c %s "$work/gen/results.csv") + $(stat -c %s "$work/gen/retests.csv") ) / 10 ))
echo "| rounds | people a round | history wall (median of 3) | peak RSS | one round's inputs |"
echo "|---|---|---|---|---|"
echo "| 10 | 1,000,000 | $(median "${times[@]}") s | $(( $(median "${peaks[@]}") / 1024 )) MB | $(( round_bytes / 1048576 )) MB |"
