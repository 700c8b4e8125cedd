"""Makes the round a data office reads at midday out of a whole round made by
`poolscreen generate --order time`: the first SHARE of the sample rows (everyone swabbed
by then, the rows being in sampling-time order), the lab results of those rows' tubes
only, and the whole roster, so that the rest of the city is on the missing list.
Usage: midday.py SRC DST SHARE"""
import os
import shutil
import sys

src, dst, share = sys.argv[1], sys.argv[2], float(sys.argv[3])
os.makedirs(dst, exist_ok=True)
shutil.copyfile(f"{src}/roster.csv", f"{dst}/roster.csv")


def tube_column(header):
    names = header.rstrip("\r\n").lstrip("\ufeff").split(",")
    return names.index("试管编号")


with open(f"{src}/samples.csv", encoding="utf-8") as f:
    rows = sum(1 for _ in f) - 1
keep = int(rows * share)
tubes = set()
with open(f"{src}/samples.csv", encoding="utf-8") as f, open(f"{dst}/samples.csv", "w", encoding="utf-8") as out:
    header = f.readline()
    out.write(header)
    at = tube_column(header)
    for _, line in zip(range(keep), f):
        out.write(line)
        tubes.add(line.split(",", at + 1)[at])
with open(f"{src}/results.csv", encoding="utf-8") as f, open(f"{dst}/results.csv", "w", encoding="utf-8") as out:
    header = f.readline()
    out.write(header)
    at = tube_column(header)
    for line in f:
        if line.split(",", at + 1)[at] in tubes:
            out.write(line)
