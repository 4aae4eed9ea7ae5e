"""The tiled passes of the learned detector (vision.tiles): grids, scales and the merge of passes."""
import cv2
import numpy as np

from edge_digits.vision.tiles import levels, merge, reduction, tile_grid


def test_tiles_cover_the_frame_with_overlap():
    for size, tile in [(640, 320), (480, 240), (1000, 320), (320, 320), (100, 320)]:
        starts = tile_grid(size, tile)
        assert starts[0] == 0 and starts[-1] + tile >= size
        if len(starts) > 1:
            assert min(b - a for a, b in zip(starts, starts[1:])) > 0
            assert max(a + tile - b for a, b in zip(starts, starts[1:])) >= 0.25 * tile - 1  # overlap kept


def test_levels_double_up_to_the_frame_pixels():
    assert levels((640, 480), (320, 240)) == [1.0]
    assert levels((320, 240), (320, 240)) == []
    s = 240 / 3000
    assert np.allclose(levels((4000, 3000), (320, 240)), [2 * s, 4 * s])


def test_only_photos_whose_finest_tiles_are_at_most_half_scale_are_decoded_at_half():
    assert reduction((4000, 3000), (320, 240)) == 2  # finest level 0.32
    assert reduction((3000, 4000), (320, 240)) == 2
    assert reduction((1600, 1200), (320, 240)) == 1  # finest level 0.8
    assert reduction((640, 480), (320, 240)) == 1 and reduction((320, 240), (320, 240)) == 1


def test_merge_keeps_the_best_of_overlaps_drops_pieces_and_joins_numbers():
    whole = (np.array([[10, 10, 20, 30], [100, 100, 80, 120]], np.float32), np.array([0.6, 0.9], np.float32), [[0], [1]])
    # a tile finds the first digit again (better), its neighbour as one number, and a loop inside the big digit
    tile = (np.array([[11, 10, 19, 30], [34, 11, 20, 29], [110, 110, 30, 30]], np.float32),
            np.array([0.8, 0.7, 0.5], np.float32), [[0, 1], [2]])
    boxes, scores, numbers = merge([whole, tile])
    assert len(boxes) == 3  # the duplicate and the piece are gone
    assert np.allclose(sorted(scores), [0.7, 0.8, 0.9])
    texts = [[tuple(boxes[i][:2].astype(int)) for i in m] for m in numbers]
    assert [(11, 10), (34, 11)] in texts and [(100, 100)] in texts  # the pair is one number, left to right


def test_a_box_its_pass_saw_too_small_to_trust_drops_no_piece():
    """A 30 px digit on a 12 MP photo is 2.4 net px in the whole pass (scale 0.08), which boxes it twice too
    big; the 4x tile's right box is inside that box but is no piece of it, so both stay. The same boxes from
    a pass that saw the big box at 16+ net px: the small one is a piece, and goes."""
    coarse = (np.array([[985, 985, 60, 60]], np.float32), np.array([0.9], np.float32), [[0]])
    fine = (np.array([[1000, 1000, 22, 30]], np.float32), np.array([0.8], np.float32), [[0]])
    boxes, _, _ = merge([coarse, fine], scales=[0.08, 0.32])
    assert len(boxes) == 2  # 60 px x 0.08 = 4.8 net px: under NEST_MIN_NET_H
    boxes, _, _ = merge([coarse, fine], scales=[0.5, 1.0])
    assert len(boxes) == 1 and boxes[0].tolist() == [985, 985, 60, 60]  # 30 net px: a piece of it
    boxes, _, _ = merge([coarse, fine])  # no scales: every box may drop its pieces, as before
    assert len(boxes) == 1


def test_a_box_too_small_to_be_a_digit_is_a_piece_even_of_an_unsure_host():
    """The finest pass, at the frame's own px, boxes a stroke of a 28 px digit 6 px tall: the whole pass
    saw the digit at 14 net px (not sure of its size), but a 6 px box is no digit we read, so it goes."""
    coarse = (np.array([[100, 100, 20, 28]], np.float32), np.array([0.7], np.float32), [[0]])
    stroke = (np.array([[105, 104, 4, 6]], np.float32), np.array([0.6], np.float32), [[0]])
    boxes, _, _ = merge([coarse, stroke], scales=[0.5, 1.0])
    assert boxes.tolist() == [[100, 100, 20, 28]]
    digit = (np.array([[105, 104, 8, 15]], np.float32), np.array([0.6], np.float32), [[0]])
    boxes, _, _ = merge([coarse, digit], scales=[0.5, 1.0])
    assert len(boxes) == 2  # 15 px tall: a digit's size, and the host was not sure


def test_a_link_holds_where_most_passes_that_found_both_digits_made_it():
    a, b, far = [10, 10, 20, 30], [34, 11, 20, 29], [200, 200, 20, 30]
    boxes = np.array([a, b, far], np.float32)
    s = np.array([0.9, 0.8, 0.7], np.float32)
    linked, apart = (boxes, s, [[0, 1], [2]]), (boxes, s, [[0], [1], [2]])
    only_a = (boxes[:1], s[:1], [[0]])  # a pass that saw one of the two has no say
    for passes, joined in (([linked, apart, apart], False), ([linked, apart], True), ([linked, linked, apart], True),
                           ([linked, only_a, only_a], True), ([apart, only_a], False)):
        _, _, numbers = merge(passes)
        assert (sorted(len(m) for m in numbers) == [1, 2]) == joined, (len(passes), numbers)


def test_merge_of_nothing():
    z = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), [])
    boxes, scores, numbers = merge([z, z])
    assert len(boxes) == 0 and numbers == []


def test_activity_places_a_pass_heat_on_the_frame():
    """A hot cell of the whole pass (letterboxed, portrait) and of a tile at 2x lands on its frame spot."""
    from edge_digits.vision.detector import letterbox
    from edge_digits.vision.tiles import Activity

    W, H = 480, 640  # portrait: the whole pass puts it 180 px wide in the middle of 320x240
    s, px, py = letterbox((W, H))
    act = Activity(W, H, 4 / s)
    heat = np.zeros((60, 80), np.float32)
    heat[30, 40] = 0.9  # net input px (160, 120): frame px ((160 - px) / s, 120 / s) = (240, 320)
    act.add(heat, px, py, s)
    assert act.seen(230, 310, 250, 330, 0.5)
    assert not act.seen(0, 0, 200, 200, 0.5) and not act.seen(300, 400, 480, 640, 0.5)
    assert not act.seen(230, 310, 250, 330, 0.95)  # below the gate
    tile = np.zeros((60, 80), np.float32)
    tile[10, 20] = 0.8  # a 2x tile (level scale 1.0 here) starting at level px (160, 400): frame (240, 440)
    act.add(tile, -160, -400, 1.0)
    assert act.seen(235, 435, 245, 445, 0.7) and not act.seen(0, 440, 200, 460, 0.7)


def test_gated_tiles_skip_blank_paper_and_find_what_every_tile_finds(monkeypatch):
    """A small note in a corner of a 2000x1500 photo of blank paper: coarse to fine, the tiles over the
    blank paper are not run, and the same digits come out as with every tile run."""
    from edge_digits.data import synth
    from edge_digits.data.mnist import load_sample
    from edge_digits.vision import detector as det_mod

    d = load_sample()
    rng = np.random.default_rng(5)
    while True:
        p = synth.make_page(d.x_test, d.y_test, rng, min_height=30)
        if len(p.labels) >= 4:
            break
    photo = np.full((1500, 2000), int(np.median(p.image)), np.uint8)
    photo[100:580, 100:740] = cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY)
    det = det_mod.load_detector(threads=1, tiles=True)
    calls, out = [0], {}
    run = det.net.run

    def counted(x):
        calls[0] += 1
        return run(x)

    monkeypatch.setattr(det.net, "run", counted)
    for gate in (None, det_mod.TILE_GATE_T):
        det.tile_gate_t, calls[0] = gate, 0
        f = det.find(photo)
        out[gate] = (calls[0], np.round(f.boxes).astype(int).tolist())
    (n_all, boxes_all), (n_gated, boxes_gated) = out[None], out[det_mod.TILE_GATE_T]
    assert n_all == 1 + 9 + 25 and n_gated < n_all / 2, (n_all, n_gated)
    assert len(boxes_all) >= len(p.labels) - 1 and sorted(boxes_gated) == sorted(boxes_all)


def test_max_tiles_runs_those_over_the_most_heat():
    """Gated tiles capped at one: of the two tiles a coarser pass saw heat in, the hotter one runs."""
    from edge_digits.vision.tiles import tiled_passes

    class Fake:
        in_size, tile_heat_t, link_t, links = (320, 240), 0.5, 0.4, None
        ran: list = []

        def maps(self, tile):
            self.ran.append(int(tile[0, 0]))
            return np.zeros((60, 80, 2), np.float32), np.zeros((60, 80, 4), np.float32)

    grey = np.zeros((480, 640), np.uint8)
    grey[0, 0], grey[240, 320] = 1, 2  # marks: the tile at (0, 0) and the one at (320, 240)
    heat = np.zeros((60, 80), np.float32)  # the whole pass: 640x480 at half size, 8 frame px a cell
    heat[10, 10], heat[50, 70] = 0.5, 0.9  # frame px (80, 80) and (560, 400)
    for cap, ran in ((None, [1, 2]), (2, [1, 2]), (1, [2])):
        det = Fake()
        det.ran = []
        tiled_passes(det, grey, {1.0: grey}, heat, 0.35, cap)
        assert sorted(det.ran) == ran, (cap, det.ran)


def _row_page(h: int) -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 grey page of three rows of eight sample digits h px tall, gaps of 0.35 h, and their boxes."""
    from edge_digits.data.mnist import load_sample

    d = load_sample()
    img, boxes, k = np.full((480, 640), 235, np.uint8), [], 0
    for r in range(3):
        x = 40
        for _ in range(8):
            g = d.x_test[k]
            k += 1
            ys, xs = np.nonzero(g > 40)
            g = g[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
            w = max(2, int(round(g.shape[1] * h / g.shape[0])))
            g = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA).astype(int)
            y = 60 + 150 * r
            img[y: y + h, x: x + w] = np.minimum(img[y: y + h, x: x + w], 235 - g * 200 // 255)
            boxes.append((x, y, w, h))
            x += w + int(0.35 * h)
    return img, np.array(boxes, np.float32)


def test_the_camera_reads_small_digits_of_a_vga_frame_again_in_2x_tiles(monkeypatch):
    """tiles=AUTO on 640x480: digits 12 px tall (6 at the net's scale, two neighbours a map cell apart)
    get at most SMALL_TILES tiles at full size, and more of them are found; 60 px digits get the one pass."""
    from edge_digits.core.boxes import iou_matrix
    from edge_digits.vision import detector as det_mod

    det = det_mod.load_detector(threads=1, tiles=det_mod.AUTO)
    calls = [0]
    run = det.net.run
    monkeypatch.setattr(det.net, "run", lambda x: (calls.__setitem__(0, calls[0] + 1), run(x))[1])
    got = {}
    for h in (12, 60):
        img, boxes = _row_page(h)
        for small_h in (None, det_mod.SMALL_H):
            det.small_h, calls[0] = small_h, 0
            f = det.find(img)
            got[h, small_h] = (calls[0], int((iou_matrix(boxes, f.boxes).max(1) >= 0.5).sum()) if len(f.boxes) else 0)
    assert got[12, None][0] == 1 and 1 < got[12, det_mod.SMALL_H][0] <= 1 + det_mod.SMALL_TILES, got
    assert got[12, det_mod.SMALL_H][1] > got[12, None][1], got
    assert got[60, det_mod.SMALL_H] == (1, got[60, None][1]) and got[60, None][1] >= 23, got
