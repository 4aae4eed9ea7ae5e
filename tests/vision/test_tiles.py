"""The tiled passes of the learned detector (vision.tiles): grids, scales and the merge of passes."""
import numpy as np

from edge_digits.vision.tiles import levels, merge, tile_grid


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
