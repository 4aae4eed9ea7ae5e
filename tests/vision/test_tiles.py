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
