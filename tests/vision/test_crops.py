"""Cutting a found digit out of the grey frame for the classifier (vision.crops)."""
import cv2
import numpy as np

from edge_digits.vision.crops import VIEW_GROW, classifier_batch, ink_crop


def _seven(img, x, y, s, ink):
    cv2.line(img, (x, y), (x + s, y), ink, max(2, s // 8))
    cv2.line(img, (x + s, y), (x + s // 3, y + int(1.6 * s)), ink, max(2, s // 8))


def test_crop_is_ink_high_under_a_cast_shadow():
    img = np.full((120, 200), 220, np.uint8)
    _seven(img, 65, 35, 40, 40)
    img = (img * np.linspace(1.0, 0.45, 200)[None, :]).astype(np.uint8)  # the shadow darkens paper and ink alike
    c = ink_crop(img, (60, 30, 50, 72))
    assert c.max() > 200 and np.percentile(c, 50) < 30  # strokes high, paper (shadowed or not) low


def test_a_neighbour_inside_the_margin_is_left_out():
    img = np.full((120, 240), 225, np.uint8)
    _seven(img, 60, 30, 40, 30)
    cv2.line(img, (118, 30), (118, 95), 30, 4)  # the next digit's stroke, just right of the box
    c = ink_crop(img, (58, 28, 48, 70))
    assert c[:, -8:].max() < 80  # its ink is in the grown crop's margin but not kept


def test_batch_shape():
    img = np.full((100, 100), 220, np.uint8)
    _seven(img, 30, 20, 30, 40)
    assert classifier_batch(img, np.zeros((0, 4))).shape == (0, 28, 28)
    b = classifier_batch(img, np.array([[28, 18, 34, 52]], np.float32))
    assert b.shape == (1, 28, 28) and b.dtype == np.uint8 and b.max() > 200


def test_a_touching_neighbour_does_not_widen_the_snapped_box():
    img = np.full((120, 240), 225, np.uint8)
    _seven(img, 60, 30, 40, 30)
    cv2.line(img, (86, 60), (122, 60), 30, 5)  # a neighbour's stroke crossing the 7, 16 px past its box
    box = (58, 28, 48, 70)
    _, snapped = ink_crop(img, box, return_box=True)
    assert snapped[0] + snapped[2] <= 58 + 48 + 5  # one ink component with the 7, but the box stays near the 7
    assert snapped[0] >= 58 - 5 and snapped[2] >= 40


def test_a_refined_box_keeps_its_own_ink_and_nothing_around_it():
    img = np.full((120, 240), 225, np.uint8)
    _seven(img, 60, 30, 40, 30)
    cv2.line(img, (112, 30), (112, 95), 30, 4)  # the next digit's stroke, 6 px right of the box
    cv2.circle(img, (75, 60), 3, 30, -1)  # a speck inside the box: kept, the box is the digit's
    box = (58, 28, 48, 70)
    c, same = ink_crop(img, box, return_box=True, in_box=True)
    off = 58 - max(0, int(np.floor(58 - (0.12 * 70 + 2))))  # where the box starts in the grown crop
    assert tuple(same) == box
    assert c[:, off + 48 + 2:].max() == 0 and c[:, : off - 2].max() == 0  # outside the box: nothing
    assert c.max() > 200 and c[:, off: off + 48].max() > 200
    b = classifier_batch(img, np.array([box], np.float32), in_box=True)
    assert b.shape == (1, 28, 28) and b.max() > 200


def test_the_second_view_holds_the_ink_just_outside_a_refined_box():
    img = np.full((120, 240), 225, np.uint8)
    _seven(img, 60, 30, 40, 30)
    cv2.line(img, (108, 30), (108, 95), 30, 3)  # a stroke 2-4 px right of the box: in the grown box only
    box = (58, 28, 48, 70)
    one, two, same = ink_crop(img, box, in_box=True, view_grow=VIEW_GROW)
    assert tuple(same) == box and one.shape == two.shape
    first = ink_crop(img, box, in_box=True)
    assert np.array_equal(one, first)  # the first view is the one-view crop itself
    off = 58 - max(0, int(np.floor(58 - (0.12 * 70 + 2))))
    col = off + 48 + 4  # where the stroke lies in the crop
    assert one[:, col].max() == 0 and two[:, col].max() > 200
    b, boxes, second = classifier_batch(img, np.array([box], np.float32), in_box=True, view_grow=VIEW_GROW)
    assert b.shape == second.shape == (1, 28, 28) and not np.array_equal(b, second)
    b, boxes, second = classifier_batch(img, np.array([box], np.float32), view_grow=VIEW_GROW)  # snapped boxes
    assert second.shape == (1, 28, 28) and len(boxes) == 1
    z = classifier_batch(img, np.zeros((0, 4)), in_box=True, view_grow=VIEW_GROW)
    assert [len(v) for v in z] == [0, 0, 0]
