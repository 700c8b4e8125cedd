"""Makes the round a data office reads at midday out of a whole round made by
`poolscreen generate --order time`: the first SHARE of the sample rows (everyone swabbed
by then, the rows being in sampling-time order), the lab results of the tubes whose
every row is among them (a tube still being filled has gone to no lab yet), and the
whole roster, so that the rest of the city is on the missing list. Line ends are kept
as they are. Usage: midday.py SRC DST SHARE"""
import collections
import os
import shutil
import sys

src, dst, share = sys.argv[1], sys.argv[2], float(sys.argv[3])
os.makedirs(dst, exist_ok=True)
shutil.copyfile(f"{src}/roster.csv", f"{dst}/roster.csv")


def tube_column(header):
    names = header.rstrip("\r\n").lstrip("\ufeff").split(",")
    return names.index("试管编号")


def tube(line, at):
    return line.split(",", at + 1)[at]


def samples():
    return open(f"{src}/samples.csv", encoding="utf-8", newline="")


with samples() as f:
    at = tube_column(f.readline())
    rows = collections.Counter(tube(line, at) for line in f)
keep = int(sum(rows.values()) * share)
kept = collections.Counter()
with samples() as f, open(f"{dst}/samples.csv", "w", encoding="utf-8", newline="") as out:
    out.write(f.readline())
    for _, line in zip(range(keep), f):
        out.write(line)
        kept[tube(line, at)] += 1
done = {t for t, n in kept.items() if n == rows[t]}
with open(f"{src}/results.csv", encoding="utf-8", newline="") as f, \
        open(f"{dst}/results.csv", "w", encoding="utf-8", newline="") as out:
    header = f.readline()
    out.write(header)
    at = tube_column(header)
    for line in f:
        if tube(line, at) in done:
            out.write(line)
