"""Saves a round's roster again with each room named after its building (`公寓12-305`
for room 305 of 公寓12), as many dormitory offices write it: the same people and rooms,
but no two buildings share a room's name, so a city of ten million names 2.5 million
distinct rooms where `generate` names a few hundred. Usage: name_rooms.py DIR"""
import csv
import os
import sys

path = f"{sys.argv[1]}/roster.csv"
with open(path, encoding="utf-8", newline="") as src, \
        open(f"{path}.rooms", "w", encoding="utf-8", newline="") as dst:
    rows = csv.reader(src)
    out = csv.writer(dst, lineterminator="\n")
    header = next(rows)
    building, room = header.index("楼栋"), header.index("宿舍号")
    out.writerow(header)
    for row in rows:
        if row[room]:
            row[room] = f"{row[building]}-{row[room]}"
        out.writerow(row)
os.replace(f"{path}.rooms", path)
