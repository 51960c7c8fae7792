#!/usr/bin/env python3
"""What reading a bidder list costs, and what a hostile one is refused in.

Starts `jiangcheng serve` on the demo lists and sends POST /v1/subject-lists three times each:
a list of 10,000 bidders as CSV and as .xlsx (shared strings, as Excel writes it); a zip bomb
whose entry declares 1 GiB; the same bomb declaring 100 bytes; and a workbook at the edge of the
limits (10,000 rows of 70 cells, 22 MB of sheet XML in a body just under 2 MiB). Prints each
answer's status and time, and the process's peak resident memory after each file.

    python3 loadtest/subject-lists.py ./target/release/jiangcheng [-- serve flags]
"""

import io
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{DOC}"><sheets><sheet name="投标人" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{DOC}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
}


def uscc(n):
    body = "91230202MA" + format(n, "07d")
    total = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS))
    return body + ALPHABET[(31 - total % 31) % 31]


def column(index):
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def workbook(rows):
    """An .xlsx of `rows` (lists of text), every text a shared string."""
    strings, index = [], {}
    sheet = [f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>']
    for r, row in enumerate(rows, 1):
        cells = []
        for c, text in enumerate(row):
            if text not in index:
                index[text] = len(strings)
                strings.append(text)
            cells.append(f'<c r="{column(c)}{r}" t="s"><v>{index[text]}</v></c>')
        sheet.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet.append("</sheetData></worksheet>")
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in PARTS.items():
            z.writestr(name, text)
        z.writestr("xl/worksheets/sheet1.xml", "".join(sheet))
        z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">{shared}</sst>')
    return out.getvalue()


def bombs():
    """1 GiB of zeros in one entry, declared as such, and the same declaring 100 bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("xl/worksheets/sheet1.xml", "w") as entry:
            zeros = b"\0" * (1 << 20)
            for _ in range(1024):
                entry.write(zeros)
    bomb = out.getvalue()
    liar = bytearray(bomb)
    local, central = liar.find(b"PK\x03\x04"), liar.find(b"PK\x01\x02")
    liar[local + 22:local + 26] = struct.pack("<I", 100)
    liar[central + 24:central + 28] = struct.pack("<I", 100)
    return bomb, bytes(liar)


def peak_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url, body, content_type):
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as refused:
        refused.read()
        status = refused.code
    return status, time.monotonic() - started


def main():
    binary = sys.argv[1]
    serve_flags = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    bidders = [["序号", "投标人名称", "统一社会信用代码"]] + [
        [str(i + 1), f"齐齐哈尔某某建设工程有限公司第{i}分公司", uscc(i)] for i in range(10_000)
    ]
    edge = [["统一社会信用代码"] + ["备注"] * 69] + [[uscc(0)] + ["x", "y", "z"] * 23 for _ in range(9_999)]
    bomb, liar = bombs()
    files = [
        ("10,000 bidders, CSV", "\r\n".join(",".join(row) for row in bidders).encode() + b"\r\n", "text/csv"),
        ("10,000 bidders, .xlsx", workbook(bidders), XLSX),
        ("zip bomb, 1 GiB declared", bomb, XLSX),
        ("zip bomb, 100 bytes declared", liar, XLSX),
        ("10,000 rows of 70 cells, .xlsx", workbook(edge), XLSX),
    ]
    port = free_port()
    serve = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--register", "off", *serve_flags],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        print(f"idle: peak RSS {peak_kib(serve.pid)} KiB")
        for what, body, content_type in files:
            runs = [post(f"{base}/v1/subject-lists", body, content_type) for _ in range(3)]
            times = ", ".join(f"{seconds * 1000:.0f} ms" for _, seconds in runs)
            print(f"{what} ({len(body)} bytes): {runs[0][0]}; {times}; peak RSS {peak_kib(serve.pid)} KiB")
    finally:
        serve.terminate()
        serve.wait()


if __name__ == "__main__":
    main()
