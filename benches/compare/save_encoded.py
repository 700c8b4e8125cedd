"""Saves a copy of a round folder's CSV files in another encoding, in DIR/ENCODING/
{roster,samples,results}.csv, the same rows:
- gb18030: as Excel and WPS save "CSV" on Chinese Windows, Chinese in two bytes a
  character where UTF-8 takes three;
- utf16: UTF-16LE after its byte-order mark (FF FE), as some platforms export and Excel
  saves "Unicode Text", every ASCII character in two bytes.
poolscreen reads the copy; DuckDB, which reads neither encoding without an extension it
would download, reads the UTF-8 originals.
Usage: save_encoded.py DIR gb18030|utf16"""
import os
import shutil
import sys

folder, encoding = sys.argv[1], sys.argv[2]
codec, bom = {"gb18030": ("gb18030", ""), "utf16": ("utf-16-le", "\ufeff")}[encoding]
os.makedirs(f"{folder}/{encoding}", exist_ok=True)
for name in ("roster", "samples", "results"):
    dst = f"{folder}/{encoding}/{name}.csv"
    # A UTF-8 byte-order mark is left out: the copy has its own, or none.
    with open(f"{folder}/{name}.csv", encoding="utf-8-sig", newline="") as src, \
            open(f"{dst}.part", "w", encoding=codec, newline="") as out:
        out.write(bom)
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(f"{dst}.part", dst)
