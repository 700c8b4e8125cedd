"""Reads every workbook of poolscreen's outputs with openpyxl (the reader pandas uses for
.xlsx) and checks its sheets cell by cell against the list's Parquet file ("全部" every
row, a building's sheet its building's rows): the same rows in the same order, every value in its own column (cells after an empty one
carry their reference, the others leave it to their place), text and numbers equal,
yes/no as 是/否, codes and times present where the Parquet has a value. Exits non-zero
on the first difference.

Usage: python tests/readers/check_workbooks.py OUT_DIR [OUT_DIR ...]
"""

import datetime
import re
import sys
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CODE = re.compile(r"^[a-z_]+$")


def check_sheet(where: str, rows: list, table: pa.Table) -> None:
    """The rows of one sheet (header first) against the Parquet rows it should hold."""
    header, cells = rows[0], rows[1:]
    width = len(table.schema)
    assert len(header) >= width, f"{where}: header {header}"
    assert all(h is not None for h in header[:width]), f"{where}: header {header}"
    assert len(cells) == table.num_rows, f"{where}: {len(cells)} rows, {table.num_rows} in Parquet"
    for c, field in enumerate(table.schema):
        values = table.column(c).to_pylist()
        is_code = pa.types.is_string(field.type) and all(
            v is None or CODE.match(v) for v in values
        )
        for r, want in enumerate(values):
            got = cells[r][c] if c < len(cells[r]) else None
            at = f"{where}: row {r + 2}, column {c + 1} ({field.name})"
            if want is None or want == "":
                assert got is None, f"{at}: {got!r}, empty in Parquet"
                continue
            assert got is not None, f"{at}: empty, {want!r} in Parquet"
            if pa.types.is_boolean(field.type):
                assert got == ("是" if want else "否"), f"{at}: {got!r} for {want!r}"
            elif pa.types.is_timestamp(field.type):
                assert isinstance(got, datetime.datetime), f"{at}: {got!r}"
            elif is_code:
                assert isinstance(got, str), f"{at}: {got!r}"
            elif pa.types.is_string(field.type):
                assert got == want, f"{at}: {got!r}, {want!r} in Parquet"
            else:
                assert abs(float(got) - float(want)) < 1e-9, f"{at}: {got!r}, {want!r}"


def check_book(book_path: Path, table: pa.Table) -> int:
    """The "全部" sheet holds every row; a sheet per building, when there are any, the
    rows of its building."""
    book = openpyxl.load_workbook(book_path, read_only=True)
    check_sheet(f"{book_path} 全部", list(book["全部"].iter_rows(values_only=True)), table)
    buildings = [name for name in book.sheetnames if not name.startswith("全部")]
    on_sheets = 0
    for name in buildings:
        rows = list(book[name].iter_rows(values_only=True))
        mine = table.filter(pc.equal(table.column("building"), name))
        check_sheet(f"{book_path} {name}", rows, mine)
        on_sheets += mine.num_rows
    if buildings:
        listed = table.num_rows - table.column("building").null_count
        assert on_sheets == listed, f"{book_path}: {on_sheets} rows on building sheets, {listed} with a building"
    return table.num_rows


def main() -> None:
    checked = 0
    for out in map(Path, sys.argv[1:]):
        for book_path in sorted(out.glob("*.xlsx")):
            parquet = book_path.with_suffix(".parquet")
            assert parquet.exists(), f"{book_path}: no {parquet.name} beside it"
            rows = check_book(book_path, pq.read_table(parquet))
            print(f"{book_path}: {rows} rows agree with {parquet.name}")
            checked += 1
    assert checked, "no workbooks found"


if __name__ == "__main__":
    main()
