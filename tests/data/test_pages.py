"""Tests of the page generator and the scorer, on the full MNIST ($EDGE_DIGITS_DATA) and USPS ($EDGE_DIGITS_USPS)."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from edge_digits.data.pages import CONDITIONS, EDGE, banks, make_page, make_pages
from edge_digits.data.pages.score import score

MNIST = os.environ.get("EDGE_DIGITS_DATA", "")
USPS = os.environ.get("EDGE_DIGITS_USPS", "")


@pytest.fixture(scope="module")
def bank():
    if not (os.path.exists(MNIST) and os.path.exists(USPS)):
        pytest.skip("needs the full MNIST and USPS: set EDGE_DIGITS_DATA and EDGE_DIGITS_USPS (CI has both)")
    return banks(MNIST, USPS, "dev")


@pytest.fixture(scope="module")
def pages(bank):
    return make_pages(bank, 40, 7)


def test_deterministic(bank):
    a, b = make_pages(bank, 4, 123), make_pages(bank, 4, 123)
    for p, q in zip(a, b):
        assert p.image.tobytes() == q.image.tobytes()
        assert np.array_equal(p.boxes, q.boxes) and np.array_equal(p.labels, q.labels)
        assert p.conditions == q.conditions and [n.text for n in p.numbers] == [n.text for n in q.numbers]
    assert make_pages(bank, 1, 124)[0].image.tobytes() != make_pages(bank, 1, 123)[0].image.tobytes()


def test_boxes_inside_and_on_ink(pages):
    clear = total = 0
    for p in pages:
        H, W = p.image.shape[:2]
        assert len(p.boxes) == len(p.labels)
        grey = p.image.mean(2)
        paper = np.median(grey)
        for x, y, w, h in p.boxes:
            assert x >= EDGE and y >= EDGE and x + w <= W - EDGE and y + h <= H - EDGE
            assert w >= 1 and h >= 8
            roi = grey[y: y + h, x: x + w]
            # ink under the box: some pixels darker than the box's own typical level (all boxes), clearly
            # darker for nearly all (a tiny faint digit under blur and low resolution may be barely there)
            assert roi.min() < np.percentile(roi, 75) - 3, (p.conditions, (x, y, w, h))
            clear += roi.min() < np.percentile(roi, 75) - 8 or roi.min() < paper - 15
            total += 1
    assert clear >= 0.97 * total


def test_numbers_cover_digits_once(pages):
    for p in pages:
        idx = sorted(i for n in p.numbers for i in n.digits)
        assert idx == list(range(len(p.boxes)))
        for n in p.numbers:
            assert n.text == "".join(str(p.labels[i]) for i in n.digits)


def test_ignore_touches_edge(bank):
    seen = 0  # plain dark ink, so that no digit goes to ignore for being illegible
    for s in range(12):
        p = make_page(bank, np.random.default_rng(s), (640, 480), cut="yes", pen="marker", ink="black",
                      light="even", blur="none", noise="low", resolution="full")
        H, W = p.image.shape[:2]
        for x, y, w, h in p.ignore:
            seen += 1
            assert x <= EDGE or y <= EDGE or x + w >= W - EDGE or y + h >= H - EDGE
    assert seen > 0


def test_mixed_size_pages_mix_heights(bank):
    # one size class keeps a page's digits alike (within 2x); "mixed" draws each digit's own height, so the
    # detector cannot learn a page-level size prior (a small digit beside big ones lost its heat)
    for size, lo, hi in (("small", 1.0, 2.0), ("medium", 1.0, 2.0), ("mixed", 2.0, np.inf)):
        ratios = []
        for s in range(12):
            p = make_page(bank, np.random.default_rng(s), (640, 480), digit_size=size, layout="scattered")
            if len(p.boxes) >= 3:
                ratios.append(p.boxes[:, 3].max() / p.boxes[:, 3].min())
        assert len(ratios) >= 6, size
        if size == "mixed":  # each digit's own height: most pages, not every one, span 2x or more
            assert np.median(ratios) >= lo and max(ratios) >= 4, ratios
        else:
            assert lo <= min(ratios) and max(ratios) < hi, (size, ratios)
    for s in range(6):  # grids share one height: a mixed page is never a table, column or keypad
        assert make_page(bank, np.random.default_rng(s), None, digit_size="mixed").conditions["layout"] in ("scattered", "row")


@pytest.mark.parametrize("cls", list(CONDITIONS))
def test_every_condition_reachable(bank, cls):
    for v in CONDITIONS[cls]:
        for s in range(5):  # "cut" is measured (a cut digit may find no room): a few seeds
            kw = {"digit_size" if cls == "size" else cls: v}
            p = make_page(bank, np.random.default_rng(s), None, **kw)
            if p.conditions[cls] == v:
                break
        assert p.conditions[cls] == v
        assert set(p.conditions) == set(CONDITIONS)


def _truth(p):
    return {"digits": [(tuple(b), int(l)) for b, l in zip(p.boxes, p.labels)],
            "numbers": [(n.text, n.box, n.digits) for n in p.numbers]}


def test_score_truth_is_perfect(pages):
    r = score(pages, [_truth(p) for p in pages])["overall"]
    for k in ("recall", "precision", "read_right", "numbers_whole", "pages_exact"):
        assert r[k]["value"] == 1.0, k


def test_score_drops(pages):
    ps = [p for p in pages if len(p.boxes) >= 2][:10]
    n = sum(len(p.boxes) for p in ps)
    res = [_truth(p) for p in ps]
    res[0]["digits"] = res[0]["digits"][1:]  # a missing digit
    r = score(ps, res)["overall"]
    assert r["recall"]["k"] == n - 1 and r["precision"]["value"] == 1.0
    res = [_truth(p) for p in ps]
    res[0]["digits"].append(((1, 1, 5, 5), 3))  # an extra one
    r = score(ps, res)["overall"]
    assert r["recall"]["value"] == 1.0 and r["precision"]["k"] == n and r["precision"]["n"] == n + 1
    res = [_truth(p) for p in ps]
    b, lab = res[0]["digits"][0]
    res[0]["digits"][0] = (b, (lab + 1) % 10)  # a misread one
    r = score(ps, res)["overall"]
    assert r["recall"]["value"] == 1.0 and r["read_right"]["k"] == n - 1 and r["pages_exact"]["k"] == len(ps) - 1
    assert "by_condition" in score(ps, res) and score(ps, res)["by_height"]


def test_score_ignores_cut_digits(bank):
    p = make_page(bank, np.random.default_rng(3), (640, 480), cut="yes")
    res = _truth(p)
    res["digits"] += [(tuple(b), 1) for b in p.ignore]
    r = score([p], [res])["overall"]
    assert r["precision"]["value"] == 1.0


def _paper_with_line(ink_level=None, ink_colour=None):
    """Grey paper (level 200, mild noise) with a dark ruled line through a 20x30 box and, optionally, a
    digit-like stroke (a vertical bar) of the given darkness or BGR colour."""
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(200, 2, (80, 80, 3)), 0, 255).astype(np.uint8)
    img[44:46] = 90  # the ruled line: dark, but no ink of the digit
    ink = np.stack(np.meshgrid(np.arange(38, 42), np.arange(25, 55)), -1).reshape(-1, 2)
    if ink_level is not None:
        img[25:55, 38:42] = ink_level
    if ink_colour is not None:
        img[25:55, 38:42] = ink_colour
    return img, (30, 25, 20, 30), ink


def test_legibility_reads_the_digits_own_ink():
    from edge_digits.data.pages.render import legible

    img, box, ink = _paper_with_line()
    assert not legible(img, box, ink)  # a ruled line across a vanished digit is not the digit
    img, box, ink = _paper_with_line(ink_level=150)
    assert legible(img, box, ink)
    img, box, ink = _paper_with_line(ink_level=195)  # 5 levels under the paper: gone
    assert not legible(img, box, ink)
    # green ink on grey paper: the same grey level as the paper, plain in its colour channels
    img, box, ink = _paper_with_line(ink_colour=(160, 230, 190))
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    assert abs(int(grey[30, 40]) - 200) < 12 and legible(img, box, ink)


def test_illegible_digits_go_to_ignore(bank):
    """Hard pencil under glare, blur and noise leaves some digits unreadable: they are ignored, not truth."""
    n_ignored = 0
    for s in range(6):
        p = make_page(bank, np.random.default_rng(s), (640, 480), pen="pencil", light="glare", blur="motion",
                      noise="high", resolution="low", digit_size="tiny", cut="no")
        n_ignored += len(p.ignore)
    assert n_ignored > 0


def test_shape_score_falls_with_blur_longer_than_the_digit():
    import cv2 as _cv2

    from edge_digits.data.pages.render import shape_score

    clean = np.zeros((60, 50), np.float32)
    _cv2.ellipse(clean, (25, 30), (8, 13), 0, 0, 360, 1.0, 2)  # a 0 about 28 px tall
    box = (16, 16, 18, 28)
    assert shape_score(box, clean, lambda x: x) == pytest.approx(1.0)
    k = np.zeros((15, 15), np.float32)
    k[7] = 1 / 15  # a 15 px horizontal motion blur: half the digit's height
    mild = shape_score(box, clean, lambda x: _cv2.GaussianBlur(x, (0, 0), 0.5))
    smeared = shape_score(box, clean, lambda x: _cv2.filter2D(x, -1, k))
    assert mild > 0.95 and smeared < mild - 0.2


def test_pages_carry_legibility_and_score_reports_it(bank):
    from edge_digits.data.pages.score import LEGIBILITY, legibility_class

    sharp = make_page(bank, np.random.default_rng(5), (640, 480), blur="none", resolution="full", cut="no")
    smeared = make_page(bank, np.random.default_rng(5), (640, 480), blur="motion", resolution="low", cut="no",
                        digit_size="small", pen="marker", ink="black")
    assert len(sharp.boxes) and len(smeared.boxes)
    for p in (sharp, smeared):
        assert p.legibility.shape == (len(p.boxes), 2)
        assert (p.legibility[:, 0] >= 1.0).all()  # under the contrast line a digit is no truth
    assert np.median(smeared.legibility[:, 1]) < np.median(sharp.legibility[:, 1])
    rep = score([sharp, smeared], [_truth(sharp), _truth(smeared)])["by_legibility"]
    assert sum(m["recall"]["n"] for m in rep.values()) == len(sharp.boxes) + len(smeared.boxes)
    assert set(rep) <= {name for name, _, _ in LEGIBILITY}
    assert all(m["read_right"]["value"] == 1.0 for m in rep.values())
    other = sharp.__class__(sharp.image, sharp.boxes, sharp.labels, sharp.numbers, sharp.ignore, {})  # no legibility
    assert (legibility_class(other) == -1).all() and not score([other], [_truth(other)])["by_legibility"]


def test_score_by_label(pages):
    ps = [p for p in pages if len(p.boxes) >= 2][:10]
    res = [_truth(p) for p in ps]
    rep = score(ps, res)["by_label"]
    assert sum(m["recall"]["n"] for m in rep.values()) == sum(len(p.boxes) for p in ps)
    assert all(m["recall"]["value"] == 1.0 and m["precision"]["value"] == 1.0 for m in rep.values())
    b, lab = res[0]["digits"][0]
    res[0]["digits"][0] = (b, (lab + 1) % 10)  # read as the next digit: its label loses read right
    res[1]["digits"].append(((1, 1, 5, 5), 3))  # a box on nothing, read as 3: precision of 3 drops
    rep = score(ps, res)["by_label"]
    assert rep[str(lab)]["recall"]["value"] == 1.0 and rep[str(lab)]["read_right"]["k"] == rep[str(lab)]["read_right"]["n"] - 1
    assert rep["3"]["precision"]["n"] == rep["3"]["precision"]["k"] + 1


def test_punctuation_beside_numbers_stays_off_digits():
    # pen dots, commas and dashes are drawn beside numbers as things that are no digit: never on digit ink
    from types import SimpleNamespace

    from edge_digits.data.pages.layout import _punctuation

    taken = [(100, 100, 120, 130), (125, 100, 145, 130), (300, 300, 330, 340)]
    s = SimpleNamespace(taken=taken, W=640, H=480, to_canvas=lambda p: np.asarray(p, float))
    n_dots = n_strokes = 0
    for seed in range(200):
        dots, strokes = _punctuation(s, np.random.default_rng(seed), [[0, 1], [2]], 30.0, 2)
        n_dots, n_strokes = n_dots + len(dots), n_strokes + len(strokes)
        for (x, y), r in dots:
            assert r >= 1
            assert all(x + r < a0 or x - r > a1 or y + r < b0 or y - r > b1 for a0, b0, a1, b1 in taken)
        for p in strokes:
            (x0, y0), (x1, y1) = p.min(0), p.max(0)
            assert all(x1 < a0 or x0 > a1 or y1 < b0 or y0 > b1 for a0, b0, a1, b1 in taken)
    assert n_dots > 100 and n_strokes > 50
