"""What the phone does to the page: light and cast shadows, paper texture, blur, low resolution, sensor
noise, JPEG. Works on the frame (after the page warp); boxes are not changed by any of it."""
from __future__ import annotations

import cv2
import numpy as np

from edge_digits.data.pages.core import _crop_tile


def _occluder(rng, W, H) -> np.ndarray:
    """A phone or a hand coming in from one side, as a uint8 mask (the shape of its cast shadow)."""
    m = np.zeros((H, W), np.uint8)
    side = int(rng.integers(4))
    t = rng.uniform(0.15, 0.85)
    edge = np.array([(t * W, 0), (W, t * H), (t * W, H), (0, t * H)][side])
    inward = np.array([(0, 1), (-1, 0), (0, -1), (1, 0)][side], float)
    ang = rng.uniform(-0.6, 0.6)
    d = np.array([inward[0] * np.cos(ang) - inward[1] * np.sin(ang), inward[0] * np.sin(ang) + inward[1] * np.cos(ang)])
    n = np.array([-d[1], d[0]])
    reach = rng.uniform(0.2, 0.6) * (H if side % 2 == 0 else W)
    tip = edge + d * reach
    if rng.random() < 0.5:  # a phone: a rounded rectangle whose far end lies in the frame
        half = rng.uniform(0.08, 0.2) * max(W, H)
        far = edge - d * max(W, H)
        pts = np.array([tip + n * half, tip - n * half, far - n * half, far + n * half], np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
        r = int(half * 0.25)
        for c in (tip + n * (half - r) - d * r, tip - n * (half - r) - d * r):
            cv2.circle(m, tuple(int(v) for v in c), r, 255, -1, cv2.LINE_AA)
        cv2.fillPoly(m, [np.array([tip + n * (half - r) - d * r * 0, tip - n * (half - r),
                                   tip - n * (half - r) - d * r * 2, tip + n * (half - r) - d * r * 2], np.int32)], 255)
    else:  # a hand: palm, fingers and an arm
        s = rng.uniform(0.08, 0.16) * max(W, H)
        palm = tip - d * s * 1.2
        cv2.ellipse(m, tuple(int(v) for v in palm), (int(s), int(s * 1.1)), float(np.degrees(np.arctan2(d[1], d[0]))),
                    0, 360, 255, -1, cv2.LINE_AA)
        cv2.line(m, tuple(int(v) for v in palm), tuple(int(v) for v in palm - d * max(W, H)), 255, int(s * 1.4), cv2.LINE_AA)
        for k in range(4):
            base = palm + n * s * (k - 1.5) * 0.5 + d * s * 0.6
            f = d * np.cos(0.15 * (k - 1.5)) + n * np.sin(0.15 * (k - 1.5))
            cv2.line(m, tuple(int(v) for v in base), tuple(int(v) for v in base + f * s * rng.uniform(0.9, 1.5)),
                     255, max(2, int(s * 0.32)), cv2.LINE_AA)
        th = palm + n * s * rng.choice([-1, 1]) * 0.9
        cv2.line(m, tuple(int(v) for v in th), tuple(int(v) for v in th + (d + n * 0.8) * s * 0.8), 255,
                 max(2, int(s * 0.35)), cv2.LINE_AA)
    return m


def _light(rng, W, H, kind) -> tuple[np.ndarray, np.ndarray | None]:
    """A gain map (H, W) and, for glare, an additive veil."""
    sw, sh = max(4, W // 8), max(4, H // 8)  # smooth fields are made small and enlarged
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx, yy = xx / sw - 0.5, yy / sh - 0.5
    g = rng.uniform(-1, 1, 2)
    gain = 1 - rng.uniform(0.03, 0.12) * (g[0] * xx + g[1] * yy + 0.5)  # every photo has a little unevenness
    if kind == "gradient":
        gain = 1 - rng.uniform(0.15, 0.5) * ((g[0] * xx + g[1] * yy) / max(abs(g).sum() / 2, 1e-3) * 0.5 + 0.5)
    elif kind == "vignette":
        c = rng.uniform(-0.15, 0.15, 2)
        gain *= 1 - rng.uniform(0.25, 0.6) * np.clip(((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / 0.5, 0, 1) ** 1.3
    elif kind == "soft-shadow":
        c = rng.uniform(-0.5, 0.5, 2)
        r = rng.uniform(0.2, 0.45)
        gain *= 1 - rng.uniform(0.25, 0.55) * np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * r * r))
    gain = cv2.resize(gain.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    veil = None
    if kind == "hard-shadow":  # sharp or slightly soft edge, 30-70% darker; digits inside stay ground truth
        m = _occluder(rng, W, H).astype(np.float32) / 255
        sig = rng.uniform(0.5, 4) if rng.random() < 0.7 else rng.uniform(4, 10)
        m = cv2.GaussianBlur(m, (0, 0), sig)
        gain *= 1 - rng.uniform(0.3, 0.7) * m
    elif kind == "glare":  # a bright reflection washes out the ink under it
        c = rng.uniform(0.15, 0.85, 2) * (sw, sh)
        v = np.zeros((sh, sw), np.float32)
        ax = tuple(int(x) for x in rng.uniform(0.08, 0.3, 2) * (sw, sh) + 1)
        cv2.ellipse(v, tuple(int(x) for x in c), ax, rng.uniform(0, 180), 0, 360, 1.0, -1)
        v = cv2.GaussianBlur(v, (0, 0), max(ax) * 0.5)
        veil = cv2.resize(v / max(v.max(), 1e-3), (W, H)) * rng.uniform(0.6, 0.95)
    return gain, veil


def shoot(frame: np.ndarray, rng, c: dict):
    """The photo of the page: (frame, optics), optics the same blur and resolution as a function."""
    H, W = frame.shape[:2]
    gain, veil = _light(rng, W, H, c["light"])
    gain *= (1 + 0.012 * _crop_tile(rng, H, W)) * rng.uniform(0.85, 1.08)  # paper texture, exposure
    if c["light"] == "hard-shadow":  # shadows are lit by the sky: a little bluer
        img = frame * np.stack([gain * (1.0 + 0.06 * (1 - gain)), gain, gain], -1)
    else:
        img = frame * gain[..., None]  # one pass over the frame: every gain is folded into one map
    if veil is not None:
        img += (255 - img) * veil[..., None]
    if c["blur"] == "gaussian":
        sig = rng.uniform(0.8, 2.2) * max(1, H / 600)
        blur = lambda x: cv2.GaussianBlur(x, (0, 0), sig)  # noqa: E731
    elif c["blur"] == "motion":
        n = int(rng.integers(4, 15))
        k = np.zeros((n, n), np.float32)
        a = rng.uniform(0, np.pi)
        r = (n - 1) / 2
        cv2.line(k, (int(round(r - r * np.cos(a))), int(round(r - r * np.sin(a)))),
                 (int(round(r + r * np.cos(a))), int(round(r + r * np.sin(a)))), 1.0, 1, cv2.LINE_AA)
        k /= k.sum()
        blur = lambda x: cv2.filter2D(x, -1, k)  # noqa: E731
    else:
        sig = rng.uniform(0.3, 0.6)
        blur = lambda x: cv2.GaussianBlur(x, (0, 0), sig)  # noqa: E731
    img = blur(img)
    f = rng.uniform(2, 3.5) if c["resolution"] == "low" else 1.0  # a small sensor or a digital zoom
    small = None
    if f > 1:  # detail lost, then scaled up
        small = (W, H)
        img = cv2.resize(img, (max(8, int(W / f)), max(8, int(H / f))), interpolation=cv2.INTER_AREA)

    def optics(x: np.ndarray) -> np.ndarray:
        """The photo's blur and resolution alone on a float map of the frame (render's legibility)."""
        x = blur(x)
        if f > 1:
            h, w = x.shape[:2]
            x = cv2.resize(cv2.resize(x, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA),
                           (w, h), interpolation=cv2.INTER_LINEAR)
        return x

    sd = rng.uniform(1, 4) if c["noise"] == "low" else rng.uniform(6, 16)
    # grain from a fixed white-noise tile at a random offset: far quicker than fresh normals, still seeded
    h, w = img.shape[:2]
    img += (sd * _crop_tile(rng, h, w, raw=True))[..., None]  # luminance grain
    img += (sd * 0.4) * _crop_tile(rng, h, 3 * w, raw=True).reshape(h, w, 3)  # colour grain
    out = np.clip(img, 0, 255).astype(np.uint8)
    if c["jpeg"] != "none":
        q = int(rng.integers(70, 96) if c["jpeg"] == "high" else rng.integers(30, 70))
        out = cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_COLOR)
    if small is not None:
        out = cv2.resize(out, small, interpolation=cv2.INTER_LINEAR)
    return out, optics
