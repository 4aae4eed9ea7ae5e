"""Still images in: expand files, folders and globs; read each one with a size guard and a clear error."""
from __future__ import annotations

import glob
import os
import struct
from pathlib import Path

import cv2
import numpy as np

from edge_digits.config import EdgeDigitsError
from edge_digits.core.quiet import native_stderr_silenced

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".jp2"}
MAX_BYTES = 200 << 20
MAX_PIXELS = 50_000_000  # 50 MP: a bigger "photo" is a decompression bomb or a mistake, not a page
MAX_BYTES_UNSIZED = 16 << 20  # a file whose header gives no size (an unknown format) is decoded only below this
# OpenCV's own cap on what one decode may allocate (it reads this at its first decode); the header check
# above refuses earlier with a clearer message, this stops what no header check knows of (HDR, EXR, ...).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))


def expand(items: list[str]) -> list[tuple[str, Path | None]]:
    """(what the user wrote, path or None when nothing matched), in order; folders give their images
    sorted, globs their matches sorted."""
    out: list[tuple[str, Path | None]] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
            out += [(str(f), f) for f in files] or [(item, None)]
        elif p.exists():
            out.append((item, p))
        elif any(c in item for c in "*?["):
            files = sorted(Path(f) for f in glob.glob(str(p)) if Path(f).is_file())
            out += [(str(f), f) for f in files] or [(item, None)]
        else:
            out.append((item, None))
    return out


def _u(b: bytes, fmt: str) -> int:
    return struct.unpack(fmt, b)[0]


def _jpeg_size(f) -> tuple[int, int] | None:
    """Walk the JPEG segments by their lengths (an EXIF APP1 can be 64 KiB, several can come first) to the
    frame header (SOFn), seeking over each segment's body instead of reading it."""
    f.seek(2)
    for _ in range(10_000):
        b = f.read(1)
        while b == b"\xff":  # fill bytes before a marker
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers: no length
            continue
        ln = f.read(2)
        if len(ln) < 2:
            return None
        length = _u(ln, ">H")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            seg = f.read(5)
            if len(seg) < 5:
                return None
            h, w = struct.unpack(">HH", seg[1:5])
            return w, h
        if marker == 0xDA or length < 2:  # scan data before any frame header: not a JPEG we can size
            return None
        f.seek(length - 2, 1)
        if f.read(1) != b"\xff":
            return None
    return None


def _tiff_size(f, head: bytes) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of each IFD, the largest: OpenCV may decode any page."""
    e = "<" if head[:2] == b"II" else ">"
    big = _u(head[2:4], e + "H") == 43
    f.seek(8 if big else 4)
    off = _u(f.read(8), e + "Q") if big else _u(f.read(4), e + "I")
    best, seen = None, set()
    while off and off not in seen and len(seen) < 64:
        seen.add(off)
        f.seek(off)
        raw = f.read(8 if big else 2)
        if len(raw) < (8 if big else 2):
            break
        n = _u(raw, e + ("Q" if big else "H"))
        if n > 4096:
            return None
        esz = 20 if big else 12
        data = f.read(n * esz + (8 if big else 4))
        w = h = None
        for i in range(min(n, len(data) // esz)):
            ent = data[i * esz:(i + 1) * esz]
            tag, typ = struct.unpack(e + "HH", ent[:4])
            val = ent[12:20] if big else ent[8:12]
            v = _u(val[:2], e + "H") if typ == 3 else _u(val[:4], e + "I") if typ == 4 else \
                _u(val[:8], e + "Q") if typ == 16 else None
            if tag == 256:
                w = v
            elif tag == 257:
                h = v
        if w is None or h is None:
            return None
        best = (w, h) if best is None or w * h > best[0] * best[1] else best
        tail = data[n * esz:]
        off = (_u(tail[:8], e + "Q") if big else _u(tail[:4], e + "I")) if len(tail) >= (8 if big else 4) else 0
    return best


def _webp_size(head: bytes) -> tuple[int, int] | None:
    kind, body = head[12:16], head[20:]
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        return _u(body[6:8], "<H") & 0x3FFF, _u(body[8:10], "<H") & 0x3FFF
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = _u(body[1:5], "<I")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(body) >= 10:
        return int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1
    return None


def _pnm_size(head: bytes) -> tuple[int, int] | None:
    """P1..P6: width and height are the first two numbers after the magic, comments (#...) between."""
    nums, i = [], 2
    while len(nums) < 2 and i < len(head):
        c = head[i:i + 1]
        if c == b"#":
            j = head.find(b"\n", i)
            i = len(head) if j < 0 else j + 1
        elif c.isdigit():
            j = i
            while j < len(head) and head[j:j + 1].isdigit():
                j += 1
            nums.append(int(head[i:j]))
            i = j
        elif c.isspace():
            i += 1
        else:
            return None
    return (nums[0], nums[1]) if len(nums) == 2 else None


def _jp2_size(f, head: bytes) -> tuple[int, int] | None:
    if head[:4] == b"\xff\x4f\xff\x51":  # a raw J2K codestream: the SIZ segment comes first
        if len(head) < 24:
            return None
        xs, ys, xo, yo = struct.unpack(">IIII", head[8:24])
        return xs - xo, ys - yo
    f.seek(0)  # JP2 boxes: jp2h holds ihdr (height, width)
    end, depth = None, 0
    while depth < 256:
        depth += 1
        hdr = f.read(8)
        if len(hdr) < 8:
            return None
        ln, typ = _u(hdr[:4], ">I"), hdr[4:]
        if ln == 1:
            ln = _u(f.read(8), ">Q") - 8
        if typ == b"jp2h":
            continue  # descend: its boxes follow
        if typ == b"ihdr":
            h, w = struct.unpack(">II", f.read(8))
            return w, h
        if ln < 8 or typ == b"jp2c":
            return None
        f.seek(ln - 8, 1)
    return None


def image_size(f, head: bytes) -> tuple[int, int] | None:
    """Width and height read from the header of any format OpenCV decodes here, so a huge image is refused
    before it is decoded; None when the format is unknown or the header gives no size."""
    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
            return struct.unpack(">II", head[16:24])
        if head[:2] == b"BM" and len(head) >= 26:
            if _u(head[14:18], "<I") == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
                return struct.unpack("<HH", head[18:22])
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(f)
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return _tiff_size(f, head)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
            return struct.unpack("<HH", head[6:10])
        if head[:1] == b"P" and head[1:2] in b"123456" and len(head) > 2 and head[2:3].isspace():
            return _pnm_size(head)
        if head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or head[:4] == b"\xff\x4f\xff\x51":
            return _jp2_size(f, head)
    except (struct.error, OSError, ValueError):
        return None
    return None


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header without decoding it, or None (unknown format, unreadable)."""
    try:
        with open(path, "rb") as f:
            return image_size(f, f.read(1 << 16))
    except OSError:
        return None


REDUCED = {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


def read_image(path: Path, max_pixels: int = MAX_PIXELS, grey: bool = False, reduce: int = 1) -> np.ndarray:
    """A BGR image (grey: a grey one, decoded as such: half the time of a colour JPEG), or EdgeDigitsError
    saying in one line what is wrong with the file. With grey and reduce 2, 4 or 8, it comes 1/reduce of
    its size a side: libjpeg scales while it decodes (a 12 MP JPEG in 34 ms against 46 ms, and no 12 MP
    resize after), other formats are decoded whole and shrunk."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise EdgeDigitsError(f"{path}: empty file (0 bytes)")
        if size > MAX_BYTES:
            raise EdgeDigitsError(f"{path}: {size >> 20} MB is too big for an image (limit {MAX_BYTES >> 20} MB)")
        with open(path, "rb") as f:
            head = f.read(1 << 16)
            dims = image_size(f, head)
            if dims and dims[0] * dims[1] > max_pixels:
                raise EdgeDigitsError(f"{path}: {dims[0]}x{dims[1]} pixels is over the limit of "
                                      f"{max_pixels / 1e6:.0f} megapixels")
            if dims is None and size > MAX_BYTES_UNSIZED:
                raise EdgeDigitsError(f"{path}: {size >> 20} MB and no image size in its header: refused "
                                      f"(limit {MAX_BYTES_UNSIZED >> 20} MB for such files)")
            f.seek(0)
            data = np.frombuffer(f.read(), np.uint8)
    except OSError as e:
        raise EdgeDigitsError(f"{path}: cannot read ({e.strerror or e})") from None
    with native_stderr_silenced():  # libjpeg and libpng warn on stderr about damaged files
        flag = REDUCED.get(reduce, cv2.IMREAD_GRAYSCALE) if grey else cv2.IMREAD_COLOR
        img = cv2.imdecode(data, flag)
    if img is None:
        raise EdgeDigitsError(f"{path}: not an image OpenCV can decode")
    if img.size == 0 or min(img.shape[:2]) < 1:
        raise EdgeDigitsError(f"{path}: image has no pixels")
    k = reduce if grey and reduce in REDUCED else 1
    if img.shape[0] * img.shape[1] * k * k > max_pixels:
        raise EdgeDigitsError(f"{path}: {img.shape[1] * k}x{img.shape[0] * k} pixels is over the limit of "
                              f"{max_pixels / 1e6:.0f} megapixels")
    return img
