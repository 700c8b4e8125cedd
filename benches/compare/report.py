"""Rewrites the measured section of BENCHMARKS.md (between its compare markers) from the
measurements run.sh left in WORK. Usage: report.py WORK REPEAT BENCHMARKS.md SHAPE..."""
import os
import platform
import re
import statistics
import sys

work, repeat, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
shapes = [s.split(":") for s in sys.argv[4:]]
BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"
STAGES = ("roster", "samples", "results", "reconcile", "lists", "export")


def timing(path):
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024
    return seconds, rss


def median(kind, name):
    runs = [timing(f"{work}/{kind}-{name}-{i}.txt") for i in range(1, repeat + 1)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def stages(name):
    """Each stage's median wall time over the runs."""
    runs = [dict(re.findall(r"stage (\w+)\s+([\d.]+) s", open(f"{work}/stages-{name}-{i}.txt").read()))
            for i in range(1, repeat + 1)]
    return {s: statistics.median(float(r.get(s, 0)) for r in runs) for s in STAGES}


cores = os.cpu_count()
mem = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
rows, stage_rows, notes, measured = [], [], [], {}
for name, n, order, buildings, *rest in shapes:
    n = int(n)
    # Empty fields as run.sh reads them: the roster building by building, 10 a tube.
    roster = (rest[0] if len(rest) > 0 else "") or "building"
    pool = (rest[1] if len(rest) > 1 else "") or "10"
    prevalence = rest[2] if len(rest) > 2 else ""
    sampled = rest[3] if len(rest) > 3 else ""
    saved = rest[4] if len(rest) > 4 else ""
    base = (order, roster)
    # The samples' order, the roster's when it is not building by building, the pool
    # size when it is not 10, the prevalence when it is not generate's, and the share
    # sampled when not all, and how the files are saved when not as generate saves them.
    order = order if roster == "building" else f"{order}, roster {roster}"
    order = order if pool == "10" else f"{order}, {pool} a tube"
    order = order if not prevalence else f"{order}, prevalence {prevalence}"
    order = order if not sampled else f"{order}, first {float(sampled):.0%} of samples"
    order = order if saved != "quoted" else f"{order}, every value quoted"
    order = order if saved != "gb18030" else f"{order}, saved as GB18030"
    order = order if saved != "utf16" else f"{order}, saved as UTF-16"
    order = order if saved != "rooms" else f"{order}, rooms named after their building"
    data = f"{work}/round-{name}"
    # The bytes poolscreen reads: a GB18030 or UTF-16 round's copy (DuckDB reads the
    # UTF-8 files).
    read = f"{data}/{saved}" if saved in ("gb18030", "utf16") else data
    size = sum(os.path.getsize(f"{read}/{f}.csv") for f in ("roster", "samples", "results"))
    ps_wall, ps_rss = median("ps", name)
    duck_wall, duck_rss = median("duck", name)
    floor_wall, _ = median("floor", name)
    parse_wall, _ = median("parse", name)
    st = stages(name)
    threads = open(f"{work}/threads-{name}.txt").read().strip() if os.path.exists(f"{work}/threads-{name}.txt") else "not run"
    if base[0].startswith("foreign"):
        # foreign.py draws its buildings' sizes: the count is the one both tools found.
        found = re.search(r"buildings (\d+) rows", open(f"{work}/check-{name}.txt").read())
        buildings = found.group(1) if found else "0"
    measured[name] = dict(n=n, pool=pool, base=base, order=order, ratio=ps_wall / duck_wall, rss=ps_rss / size, wall=ps_wall,
                          stages=st, threads=threads, lists=bool(prevalence or sampled), saved=saved,
                          buildings=int(buildings))
    rows.append(f"| {name} | {n:,} | {order} | {int(buildings):,} | {size / 1e6:,.0f} | {floor_wall:.2f} | {parse_wall:.2f} "
                f"| {ps_wall:.2f} | {ps_wall / parse_wall:.1f}× | {duck_wall:.2f} | **{ps_wall / duck_wall:.2f}×** "
                f"| {ps_rss / 1e6:,.0f} | **{ps_rss / size:.2f}×** | {duck_rss / 1e6:,.0f} | {threads} |")
    stage_rows.append(f"| {name} | " + " | ".join(f"{st[s]:.2f}" for s in STAGES) + " |")
    notes.append(f"- {name}: " + open(f"{work}/check-{name}.txt").read().strip())


def verdicts():
    def line(ok, text):
        return f"- {'met' if ok else '**not met**'}: {text}"
    out = []
    for name, m in measured.items():
        if m["n"] >= 10_000_000:
            out.append(line(m["ratio"] <= 0.33, f"{name}: at most 0.33× DuckDB's wall time (measured {m['ratio']:.2f}×)"))
            out.append(line(m["rss"] <= 1.0, f"{name}: peak RSS at most 1.0× the input bytes (measured {m['rss']:.2f}×)"))
        if m["n"] <= 30_000:
            out.append(line(m["wall"] < 0.1, f"{name}: under 0.1 s, process start included (measured {m['wall']:.3f} s)"))
    # Each order against tube order, at the same size and pool size, and from the same
    # writer: a foreign round's orders against its own samples grouped by tube.
    by_size = {}
    # The rows' order only: an outbreak's or a midday round's longer lists are more
    # work by nature, and a quoted round's larger files more bytes, not the cost of an
    # order.
    for name, m in measured.items():
        if not m["lists"] and not m["saved"]:
            family = "foreign" if m["base"][0].startswith("foreign") else "generate"
            by_size.setdefault((family, m["n"], m["pool"]), []).append(m)
    for (family, n, _), group in sorted(by_size.items(), key=lambda item: (item[0][1], item[0][0])):
        tube = ("foreign-tube", "building") if family == "foreign" else ("tube", "building")
        base = next((m for m in group if m["base"] == tube), None)
        for m in group:
            if m is base or base is None:
                continue
            worst = max(STAGES, key=lambda s: m["stages"][s] / max(base["stages"][s], 1e-3))
            factor = m["stages"][worst] / max(base["stages"][worst], 1e-3)
            out.append(line(factor <= 1.5, f"{n:,} people, {m['order']} order, {m['buildings']:,} buildings: no stage over "
                                           f"1.5× its time in {tube[0]} order ({base['buildings']:,} buildings; worst: {worst}, "
                                           f"{m['stages'][worst]:.3f} s against {base['stages'][worst]:.3f} s, {factor:.2f}×)"))
    threads = [m["threads"] for m in measured.values() if m["threads"] != "not run"]
    if threads:
        out.append(line(all(t == "yes" for t in threads), "identical outputs for `--threads 1`, `2` and `4` (checked up to 1,000,000 people)"))
    return "\n".join(out)


section = f"""{BEGIN}
Measured by `benches/compare/run.sh` on this machine: {cores} cores ({cpu}), {int(mem) // 1024 // 1024} GiB of memory,
{platform.system()} {platform.release()}. Medians of {repeat} alternating runs (read floor, parse floor, poolscreen,
DuckDB, in turn), each timed with `/usr/bin/time -v`; the inputs are in the page cache.

Each round comes from `poolscreen generate --people N --buildings B --order ORDER --seed 42` (10-in-1 pools,
prevalence 0.05%; `1 a tube` adds `--pool-size 1`: everyone swabbed alone, so ten times the tubes and result rows;
`prevalence 0.01` adds `--prevalence 0.01`: an outbreak, a tenth of the tubes positive and nearly a tenth of the city
on the retest list; `first 50% of samples` keeps the first half of the sample rows, by time, and the results of their
tubes (`benches/compare/midday.py`): the round as the data office reads it at midday, half the city on the missing
list). `households` has a building for every ten people, a million at 10 M: a city that reports by household or small
compound rather than by dormitory building. `every value quoted` is the round saved again with every value in quotes
and CRLF line ends (`benches/compare/quote_all.py`), as many platform exports write it: 17% more bytes, and a quote
every few bytes. `saved as GB18030` is the round saved again in GB18030 (`benches/compare/save_encoded.py`), as Excel
and WPS save "CSV" on Chinese Windows: 15% fewer bytes; `saved as UTF-16` is the round saved again in UTF-16LE after
its byte-order mark, as some platforms export: 41% more bytes. poolscreen reads that copy (the input MB, the read floor
and the peak's ratio are its), while DuckDB, which reads neither encoding without an extension it would download, and
the parse floor read the UTF-8 originals. `rooms named after their building` is the round with its roster saved
again with each room written after its building, `公寓12-305` (`benches/compare/name_rooms.py`), as many dormitory
offices write it: no two buildings share a room's name, so the city names 2.5 million distinct rooms.
`tube` is the friendly shape (samples grouped by tube, buildings one after another); `time` is a
city platform's export (rows by sampling time, sites swabbing in parallel, so tubes of many buildings interleave and
people arrive in no roster order); `shuffled` is no order at all. `roster shuffled` adds `--roster-order shuffled`: the
roster's rows too come in no order (an export sorted by something else than building), so that nothing the run reads
follows anything else. `foreign` rounds are not made by `poolscreen generate` but by `benches/compare/foreign.py`,
written apart from it in shapes it never writes: buildings of 20 to 20,000 people, a roster listed by person_id so
that roommates do not follow each other, person_ids of four forms, 14-character tube barcodes, pools of 10 and 20, a
site for every 15 buildings, rows saved twice, people swabbed twice or off the roster, results re-run and in no
order, CRLF line ends; `foreign-tube` is the same round with its samples grouped by tube. Its pools hold 10 or 20
people, and poolscreen runs it with `--pool-size 20`. poolscreen runs the full contract (`poolscreen run
--roster … --samples … --results … --out … --quiet`: encoding detection, SHA-256 of every input, validation of every
cell, every anomaly check, and every output: the tables, people.parquet, closure.parquet, the workbooks, report.html and
the manifest). The reference is `benches/compare/reference.sql` run by DuckDB {__import__('duckdb').__version__} from
Python: it reads the three CSVs, classifies tubes by Ct, joins samples to the roster and results, counts per building,
builds the retest and missing lists and writes them as zstd Parquet, without poolscreen's validation, anomaly checks,
people table and workbooks. The read floor is `cat` of the three inputs to `/dev/null`; the parse floor is DuckDB
counting the rows of the same three files (`benches/compare/parse_floor.py`).

| shape | people | order | buildings | input MB | read floor s | parse floor s | poolscreen s | ÷ parse floor | DuckDB s | ÷ DuckDB | poolscreen peak RSS MB | RSS ÷ input | DuckDB peak RSS MB | same outputs, --threads 1/2/4 |
|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
""" + "\n".join(rows) + """

poolscreen's stages (`POOLSCREEN_TIMINGS=1`, medians, seconds):

| shape | roster | samples | results | reconcile | lists | export |
|---|---:|---:|---:|---:|---:|---:|
""" + "\n".join(stage_rows) + """

Same results from both (per-building expected, on leave, sampled, missing, tubes, positive and suspect tubes,
to retest; the retest set with tube and action; the missing set):

""" + "\n".join(notes) + """

### Targets

""" + verdicts() + "\n" + END

text = open(target, encoding="utf-8").read() if os.path.exists(target) else "# Benchmarks\n\n"
if BEGIN in text and END in text:
    text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(target, "w", encoding="utf-8").write(text)
