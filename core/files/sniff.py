"""The real content type of a file, read from its first bytes (never from its name).

No maintained sniffing library is a dependency of Banyan (``filetype``, ``python-magic`` and
``puremagic`` are not installed), and the standard library's ``mimetypes`` only reads file
names, so the kernel keeps this small table of signatures for the types it accepts, from
the formats' own specifications:

========================  ===============================================================
type                      signature
========================  ===============================================================
image/jpeg                ``FF D8 FF`` (JPEG/JFIF/EXIF start-of-image marker)
image/png                 ``89 50 4E 47 0D 0A 1A 0A`` (PNG file signature)
image/gif                 ``GIF87a`` / ``GIF89a``
image/webp                ``RIFF`` + 4-byte size + ``WEBP``
image/heic                ISO-BMFF ``ftyp`` box at offset 4 with brand heic/heix/heim/heis/mif1/msf1
application/pdf           ``%PDF-`` (within the first 1024 bytes, as readers accept)
message/rfc822            text whose first line is an e-mail header (``From:``,
                          ``Received:``, ``Return-Path:``, ``Message-ID:``...)
text/csv, text/plain      UTF-8 (or UTF-16 with BOM) text without NUL bytes; ``text/csv``
                          when the name ends ``.csv``
========================  ===============================================================

Executables are recognised so that the refusal names them: ``MZ`` (Windows PE,
``application/x-msdownload``), ``\\x7fELF`` (``application/x-executable``), Mach-O.
Anything else is ``application/octet-stream``. :data:`HEAD_SIZE` bytes are enough.
"""
from __future__ import annotations

import re

HEAD_SIZE = 8192
OCTET = "application/octet-stream"

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"}
_MAIL_HEADER = re.compile(
    rb"^(From|Received|Return-Path|Message-ID|Date|Subject|To|MIME-Version|Delivered-To|"
    rb"X-[A-Za-z0-9-]+|DKIM-Signature|Reply-To)[ \t]*:", re.I)


def _is_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with a byte-order mark
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # the head may end inside a multi-byte character: only that is forgiven
        return exc.start >= len(head) - 3 and exc.reason in ("unexpected end of data",)
    return True


def sniff(head: bytes, filename: str = "") -> str:
    """The content type of a file starting with ``head`` (its first :data:`HEAD_SIZE`
    bytes, or all of it when shorter). ``filename`` only tells ``text/csv`` from
    ``text/plain``; it never changes a binary verdict."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        return "application/x-mach-binary"
    if head and _is_text(head):
        if _MAIL_HEADER.match(head.lstrip(b"\xef\xbb\xbf")):
            return "message/rfc822"
        if filename.lower().endswith(".csv"):
            return "text/csv"
        return "text/plain"
    return OCTET
