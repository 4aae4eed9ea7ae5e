"""Still images in: expand files, folders and globs; read each one with a size guard and a clear error."""
from __future__ import annotations

import glob
import struct
from pathlib import Path

import cv2
import numpy as np

from edge_digits.config import EdgeDigitsError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".jp2"}
MAX_BYTES = 200 << 20
MAX_PIXELS = 50_000_000  # 50 MP: a bigger "photo" is a decompression bomb or a mistake, not a page


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


def _header_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG, JPEG or BMP header, so a huge image is refused before it is decoded."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return abs(w), abs(h)
    if head[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                return None
            marker, length = head[i + 1], struct.unpack(">H", head[i + 2: i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", head[i + 5: i + 9])
                return w, h
            i += 2 + length
    return None


def read_image(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A BGR image, or EdgeDigitsError saying in one line what is wrong with the file."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise EdgeDigitsError(f"{path}: empty file (0 bytes)")
        if size > MAX_BYTES:
            raise EdgeDigitsError(f"{path}: {size >> 20} MB is too big for an image (limit {MAX_BYTES >> 20} MB)")
        with open(path, "rb") as f:
            head = f.read(1 << 16)
            dims = _header_size(head)
            if dims and dims[0] * dims[1] > max_pixels:
                raise EdgeDigitsError(f"{path}: {dims[0]}x{dims[1]} pixels is over the limit of "
                                      f"{max_pixels / 1e6:.0f} megapixels")
            data = np.frombuffer(head + f.read(), np.uint8)
    except OSError as e:
        raise EdgeDigitsError(f"{path}: cannot read ({e.strerror or e})") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise EdgeDigitsError(f"{path}: not an image OpenCV can decode")
    if img.size == 0 or min(img.shape[:2]) < 1:
        raise EdgeDigitsError(f"{path}: image has no pixels")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise EdgeDigitsError(f"{path}: {img.shape[1]}x{img.shape[0]} pixels is over the limit of "
                              f"{max_pixels / 1e6:.0f} megapixels")
    return img
