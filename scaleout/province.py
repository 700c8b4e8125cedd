"""A province's round from its districts: totals and cross-border cases over the shards
that `poolscreen run … --history DIR --shard NAME` published.

    spark-submit scaleout/province.py --history DIR --round LABEL --out OUT

Reads every shard of DIR/rounds/LABEL/shard=*/ (each one district's run, published whole
with its manifest.json) and writes into OUT:

- province_buildings.parquet: every shard's building rows (buildings.parquet), by shard;
- province_totals.parquet: one row per shard and one for the province (shard null):
  expected, sampled, missing, coverage, tubes by class, to_retest, confirmed_positive;
  the province row counts each person once (a person swabbed in another district than
  their roster's is sampled, not missing) and each tube barcode once;
- cross_shard.parquet: a person sampled in two shards, a person sampled in a shard whose
  roster does not list them while another shard's does, a tube ID in two shards;

and prints a summary line. Column names and types follow poolscreen's own tables
(snake_case, 64-bit integers, strings as strings, microsecond timestamps).

A shard folder without manifest.json (a publication in progress, a broken copy) is
skipped with a message and counted in `shards_missing`; shards that disagree on the round
label or the pool size stop the job (exit status 2) before anything is written.
"""
import argparse
import glob
import json
import os
import re
import shutil
import sys

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

CLASSES = ["positive", "suspect", "invalid", "pending", "negative"]


def fail(message):
    print(f"province: {message}", file=sys.stderr)
    sys.exit(2)


def folder_name(label):
    """The folder of a round label, as poolscreen names it (src/history/mod.rs): unsafe
    characters percent-encoded byte by byte."""
    out = []
    for i, c in enumerate(label):
        safe = ((c.isascii() and c.isalnum()) or c in "-_" or (c == "." and i > 0)
                or (not c.isascii() and c.isprintable() and not c.isspace()))
        out.append(c if safe else "".join(f"%{b:02X}" for b in c.encode("utf-8")))
    return "".join(out) or "%00"


def natural(name):
    """Sort key: digits compare as numbers (d2 before d10)."""
    return [(0, int(t), t) if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


TABLES = ["buildings.parquet", "people.parquet", "tubes.parquet", "retest.parquet",
          "anomalies.parquet", "closure.parquet"]


def shards_of(history, label):
    """The published shards of the round, as (name, folder, manifest), in natural order
    of name, and the names of the folders skipped (no readable manifest, or a table
    missing)."""
    round_dir = os.path.join(history, "rounds", folder_name(label))
    if not os.path.isdir(round_dir):
        fail(f"no round {label!r} in {history} (looked for {round_dir})")
    folders = sorted(glob.glob(os.path.join(glob.escape(round_dir), "shard=*")),
                     key=lambda f: natural(os.path.basename(f)))
    if not folders:
        fail(f"round {label!r} in {history} has no shard=NAME folders (was it run with --shard?)")
    published, skipped = [], []
    for folder in folders:
        name = os.path.basename(folder).split("=", 1)[1]
        path = os.path.join(folder, "manifest.json")
        why = None
        if not os.path.isfile(path):
            why = "no manifest.json (a publication in progress or an incomplete copy)"
        else:
            try:
                with open(path, encoding="utf-8") as f:
                    manifest = json.load(f)
            except (OSError, ValueError) as e:
                why = f"manifest.json unreadable ({type(e).__name__})"
            else:
                absent = [t for t in TABLES if not os.path.isfile(os.path.join(folder, t))]
                if absent:
                    why = f"{', '.join(absent)} missing"
        if why:
            print(f"province: shard {name}: {why} in {folder}; skipped and counted as missing",
                  file=sys.stderr)
            skipped.append(name)
            continue
        published.append((name, folder, manifest))
    if not published:
        fail(f"round {label!r}: no shard has a readable manifest.json and every table")
    disagree = []
    for key, of in (("round", lambda m: m.get("round")),
                    ("pool_size", lambda m: m.get("pool_size")),
                    ("person IDs (plain or pseudonymised, and the key)",
                     lambda m: json.dumps([(m.get("privacy") or {}).get("pseudonymized"),
                                           (m.get("privacy") or {}).get("key_check")]))):
        values = {of(m) for _, _, m in published}
        if len(values) > 1 or (key == "round" and values != {label}):
            each = ", ".join(f"{n}: {of(m)!r}" for n, _, m in published)
            disagree.append(f"the shards disagree on {key} ({each})")
    for name, _, m in published:
        if m.get("shard") != name:
            disagree.append(f"shard={name} holds the manifest of shard {m.get('shard')!r}")
    if disagree:
        fail(f"round {label!r}: " + "; ".join(disagree) + "; nothing written")
    return published, skipped


def samples_file(manifest):
    """The samples input of a shard's run, as its anomalies name it."""
    return next((i.get("path") for i in manifest.get("inputs", []) if i.get("role") == "samples"), None)


def read(spark, published, table):
    """The union of one table over the shards, each row with its shard's place
    (`_shard_order`) and its place within the shard's file (`_row`)."""
    frames = []
    for order, (_, folder, _) in enumerate(published):
        frame = spark.read.parquet(os.path.join(folder, table))
        frames.append(frame.withColumn("_shard_order", F.lit(order))
                      .withColumn("_row", F.monotonically_increasing_id()))
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def write_all(frames, out):
    """Writes each (name, frame) as the single Parquet file OUT/name: Spark writes one
    part of each into a staging folder; once all are written they are moved into place,
    so that a failed job leaves the previous files."""
    staging = os.path.join(out, ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    parts = []
    for name, frame in frames:
        folder = os.path.join(staging, name)
        frame.coalesce(1).write.mode("overwrite").parquet(folder)
        found = glob.glob(os.path.join(folder, "part-*.parquet"))
        if len(found) != 1:
            fail(f"writing {name}: expected one part file, found {len(found)}")
        parts.append((found[0], os.path.join(out, name)))
    for part, target in parts:
        os.replace(part, target)
    shutil.rmtree(staging, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", required=True, help="the history folder the districts publish into")
    parser.add_argument("--round", required=True, help="the round label, as in DIR/rounds/LABEL")
    parser.add_argument("--out", required=True, help="the folder for the province's files; created if needed")
    args = parser.parse_args()
    published, skipped = shards_of(args.history, args.round)
    os.makedirs(args.out, exist_ok=True)

    spark = (SparkSession.builder.appName("poolscreen-province")
             .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
             .config("spark.sql.session.timeZone", "Asia/Shanghai")
             .config("spark.sql.parquet.compression.codec", "zstd")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")

    buildings = read(spark, published, "buildings.parquet")
    tubes = read(spark, published, "tubes.parquet").select("tube_id", "tube_class", "shard")
    retest = read(spark, published, "retest.parquet").select("person_id", "shard")
    # The shards in order, with the samples file each ran on.
    samples_files = spark.createDataFrame(
        [(name, order, samples_file(m) or "") for order, (name, _, m) in enumerate(published)],
        "shard string, shard_order long, samples_file string")
    # Every appearance of a person: on a shard's roster (people.parquet), or sampled in a
    # shard that does not list them (its unregistered_person anomalies of the samples
    # file; a retest of someone not on the roster is no sample).
    appearances = (read(spark, published, "people.parquet")
                   .select("person_id", "shard", "expected", "sampled", F.lit(True).alias("listed"))
                   .unionByName(read(spark, published, "anomalies.parquet")
                                .join(samples_files, "shard")
                                .where((F.col("kind") == "unregistered_person") & F.col("person_id").isNotNull()
                                       & ((F.col("file") == F.col("samples_file"))
                                          | F.col("file").startswith(F.concat(F.col("samples_file"), F.lit(" (sheet")))))
                                .select("person_id", "shard", F.lit(False).alias("expected"),
                                        F.lit(True).alias("sampled"), F.lit(False).alias("listed"))))

    # province_buildings: every shard's rows, shards in name order, rows as published.
    province_buildings = buildings.orderBy("_shard_order", "_row").drop("_shard_order", "_row")

    # One row per person, in one shuffle: where listed, where expected but not sampled,
    # where sampled, where sampled without being listed. Kept: every figure below reads it.
    names = lambda condition: F.array_sort(F.collect_set(F.when(condition, F.col("shard"))))
    person = (appearances.groupBy("person_id").agg(
        F.max("expected").alias("expected"),
        F.max(F.col("expected") & F.col("sampled")).alias("expected_sampled"),
        names(F.col("listed")).alias("rosters"),
        names(F.col("listed") & F.col("expected") & ~F.col("sampled")).alias("missing_in"),
        names(F.col("sampled")).alias("sampled_in"),
        names(~F.col("listed")).alias("outside"))
        .persist(StorageLevel.MEMORY_AND_DISK))
    # A person expected somewhere counts as sampled when any shard sampled them.
    person = person.withColumn("sampled_any", F.size("sampled_in") > 0)

    # Per shard: its buildings' figures, its tubes by class, its people sampled elsewhere.
    sums = [F.sum(c).cast("long").alias(c) for c in
            ("expected", "sampled", "missing", "to_retest", "confirmed_positive")]
    per_shard = buildings.groupBy("shard").agg(*sums)
    tube_counts = (tubes.groupBy("shard")
                   .agg(F.count("*").cast("long").alias("tubes"),
                        *[F.sum((F.col("tube_class") == c).cast("long")).cast("long").alias(f"{c}_tubes")
                          for c in CLASSES]))
    elsewhere = (person.where(F.size("missing_in") > 0)
                 .select(F.explode("missing_in").alias("shard"), "sampled_in")
                 .where(F.size(F.array_remove("sampled_in", F.col("shard"))) > 0)
                 .groupBy("shard").agg(F.count("*").cast("long").alias("sampled_elsewhere")))
    per_shard = (samples_files.select("shard", "shard_order").join(per_shard, "shard", "left")
                 .join(tube_counts, "shard", "left")
                 .join(elsewhere, "shard", "left")
                 .fillna(0, subset=["expected", "sampled", "missing", "to_retest", "confirmed_positive", "tubes",
                                   "sampled_elsewhere"] + [f"{c}_tubes" for c in CLASSES]))

    # The province: each person once, each barcode once (its most serious class).
    severity = F.create_map(*[x for i, c in enumerate(CLASSES) for x in (F.lit(c), F.lit(i))])
    by_tube = tubes.groupBy("tube_id").agg(F.min(severity[F.col("tube_class")]).alias("rank"))
    tube_row = by_tube.agg(F.count("*").cast("long").alias("tubes"),
                           *[F.sum((F.col("rank") == i).cast("long")).cast("long").alias(f"{c}_tubes")
                             for i, c in enumerate(CLASSES)]).collect()[0]
    people_row = person.agg(
        F.sum(F.col("expected").cast("long")).alias("expected"),
        F.sum((F.col("expected") & F.col("sampled_any")).cast("long")).alias("sampled")).collect()[0]
    expected_n, sampled_n = people_row["expected"] or 0, people_row["sampled"] or 0
    listed = person.where(F.size("rosters") > 0).select("person_id")
    to_retest_n = retest.select("person_id").distinct().join(listed, "person_id").count()
    confirmed_n = (read(spark, published, "closure.parquet").where(F.col("state") == "confirmed")
                   .select("person_id").distinct().join(listed, "person_id").count())

    columns = (["round", "shard", "published", "expected", "sampled", "missing", "coverage", "tubes"]
               + [f"{c}_tubes" for c in CLASSES]
               + ["to_retest", "confirmed_positive", "sampled_elsewhere", "shards_published", "shards_missing"])
    order_of = {name: i for i, name in enumerate(sorted([n for n, _, _ in published] + skipped, key=natural))}
    shard_rows = (per_shard
                  .withColumn("round", F.lit(args.round))
                  .withColumn("published", F.lit(True))
                  .withColumn("coverage", F.when(F.col("expected") > 0, F.col("sampled") / F.col("expected")))
                  .withColumn("shards_published", F.lit(None).cast("long"))
                  .withColumn("shards_missing", F.lit(None).cast("long"))
                  .select(*columns))
    schema = shard_rows.schema
    extra = [(args.round, name, False) + (None,) * (len(columns) - 3) for name in skipped]
    province = [(args.round, None, True, expected_n, sampled_n, expected_n - sampled_n,
                 sampled_n / expected_n if expected_n else None, tube_row["tubes"])
                + tuple(tube_row[f"{c}_tubes"] for c in CLASSES)
                + (to_retest_n, int(confirmed_n), None, len(published), len(skipped))]
    rank = F.create_map(*[x for name, i in order_of.items() for x in (F.lit(name), F.lit(i))])
    totals = (shard_rows.unionByName(spark.createDataFrame(extra + province, schema))
              .orderBy(F.col("shard").isNull(), rank[F.col("shard")]))

    # Cross-border cases.
    joined = lambda c: F.concat_ws(",", c)
    rosters = F.when(F.size("rosters") > 0, joined("rosters")).alias("roster_shard")
    twice = (person.where(F.size("sampled_in") >= 2)
             .select(F.lit("sampled_in_two_shards").alias("kind"), "person_id",
                     F.lit(None).cast("string").alias("tube_id"), joined("sampled_in").alias("shards"),
                     rosters))
    outside = (person.where((F.size("outside") > 0) & (F.size("rosters") > 0))
               .select(F.lit("sampled_outside_roster").alias("kind"), "person_id",
                       F.lit(None).cast("string").alias("tube_id"), F.explode("outside").alias("shards"),
                       rosters))
    shared_tubes = (tubes.groupBy("tube_id")
                    .agg(F.countDistinct("shard").alias("n"),
                         joined(F.array_sort(F.collect_set("shard"))).alias("shards"))
                    .where("n >= 2")
                    .select(F.lit("tube_in_two_shards").alias("kind"),
                            F.lit(None).cast("string").alias("person_id"), "tube_id", "shards",
                            F.lit(None).cast("string").alias("roster_shard")))
    cross = (twice.unionByName(outside).unionByName(shared_tubes)
             .withColumn("round", F.lit(args.round))
             .select("round", "kind", "person_id", "tube_id", "shards", "roster_shard")
             .orderBy("kind", "person_id", "tube_id", "shards"))

    write_all([("province_buildings.parquet", province_buildings),
               ("province_totals.parquet", totals),
               ("cross_shard.parquet", cross)], args.out)
    kinds = {r["kind"]: r["count"] for r in cross.groupBy("kind").count().collect()}
    coverage = f"{100 * sampled_n / expected_n:.2f}%" if expected_n else "n/a"
    print(f"province {args.round}: {len(published)} shards published, {len(skipped)} missing; "
          f"expected {expected_n}, sampled {sampled_n}, missing {expected_n - sampled_n} "
          f"(coverage {coverage}); tubes {tube_row['tubes']} (positive {tube_row['positive_tubes']}, "
          f"suspect {tube_row['suspect_tubes']}); to retest {to_retest_n}, confirmed {int(confirmed_n)}; "
          f"cross-shard: {kinds.get('sampled_in_two_shards', 0)} sampled in two shards, "
          f"{kinds.get('sampled_outside_roster', 0)} sampled outside their roster's shard, "
          f"{kinds.get('tube_in_two_shards', 0)} tube IDs in two shards; in {args.out}")
    spark.stop()


if __name__ == "__main__":
    main()
