"""Small sample files for demos and unattended runs (a real, minimal PDF)."""

from __future__ import annotations

from pathlib import Path


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (enough for the registry's uploads)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def file_or_sample(path: str | Path | None, sample_text: str) -> bytes:
    """The file's bytes, or a sample PDF when no path is given; a wrong path is explained, not a traceback."""
    if not path:
        return minimal_pdf(sample_text)
    file = Path(path).expanduser()
    if not file.is_file():
        from helpers.errors import input_error

        raise input_error("the parameters", {"file": [f"There is no file at {file.resolve()}."]})
    return file.read_bytes()
