"""Saves a copy of a round folder's CSV files in GB18030, as Excel and WPS save "CSV" on
Chinese Windows: DIR/gb18030/{roster,samples,results}.csv, the same rows, Chinese in
two bytes a character where UTF-8 takes three. poolscreen reads the copy; DuckDB, which
reads GB18030 only through an extension it would download, reads the UTF-8 originals.
Usage: save_gb18030.py DIR"""
import os
import shutil
import sys

folder = sys.argv[1]
os.makedirs(f"{folder}/gb18030", exist_ok=True)
for name in ("roster", "samples", "results"):
    dst = f"{folder}/gb18030/{name}.csv"
    # A UTF-8 byte-order mark is left out: a GB18030 file has none.
    with open(f"{folder}/{name}.csv", encoding="utf-8-sig", newline="") as src, \
            open(f"{dst}.part", "w", encoding="gb18030", newline="") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(f"{dst}.part", dst)
