import gzip

import numpy as np
import pytest

from conftest import full_data_or_skip, write_npz
from edge_digits.data import mnist as data
from edge_digits.config import EdgeDigitsError


def test_sample_is_small_balanced_and_valid(sample):
    assert sample.x_train.shape == (3000, 28, 28) and sample.x_test.shape == (2000, 28, 28)
    assert sample.x_train.dtype == np.uint8 and not sample.full and sample.eval_set == "sample"
    assert np.bincount(sample.y_test, minlength=10).tolist() == [200] * 10
    assert data.sample_path().stat().st_size <= 1_000_000


def test_full_mnist_from_env():
    path = full_data_or_skip()
    d = data.load_mnist()
    assert d.full and d.x_train.shape == (60000, 28, 28) and d.y_test.shape == (10000,)
    assert d.source == str(path)


def _idx_bytes(arr):
    code = 3 if arr.ndim == 3 else 1
    head = bytes([0, 0, 8, code]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return head + arr.tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trip(tmp_path, sample, gz):
    arrays = {"x_train": sample.x_train[:50], "y_train": sample.y_train[:50],
              "x_test": sample.x_test[:20], "y_test": sample.y_test[:20]}
    for key, stem in data.IDX_FILES.items():
        raw = _idx_bytes(arrays[key])
        if gz:
            (tmp_path / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (tmp_path / stem).write_bytes(raw)
    d = data.load_mnist(tmp_path)
    assert np.array_equal(d.x_train, arrays["x_train"]) and np.array_equal(d.y_test, arrays["y_test"])
    assert not d.full


def test_truncated_idx_is_named(tmp_path, sample):
    for key, stem in data.IDX_FILES.items():
        (tmp_path / stem).write_bytes(_idx_bytes(sample.x_train[:5] if key.startswith("x") else sample.y_train[:5]))
    bad = tmp_path / data.IDX_FILES["x_test"]
    bad.write_bytes(bad.read_bytes()[:-10])
    with pytest.raises(EdgeDigitsError, match="t10k-images-idx3-ubyte.*bytes"):
        data.load_mnist(tmp_path)


@pytest.mark.parametrize("content,message", [
    (b"this is not a zip file", "cannot read as .npz"),
    (b"", "cannot read as .npz"),
])
def test_corrupt_npz(tmp_path, content, message):
    p = tmp_path / "mnist.npz"
    p.write_bytes(content)
    with pytest.raises(EdgeDigitsError, match=message) as e:
        data.load_mnist(p)
    assert str(p) in str(e.value)


def test_wrong_arrays_are_explained(tmp_path, sample):
    good = dict(x_train=sample.x_train, y_train=sample.y_train, x_test=sample.x_test, y_test=sample.y_test)
    cases = {
        "missing arrays y_test": {k: v for k, v in good.items() if k != "y_test"},
        "dtype float32": {**good, "x_train": sample.x_train.astype(np.float32)},
        r"shape \(3000, 784\)": {**good, "x_train": sample.x_train.reshape(3000, 784)},
        "labels 0..9": {**good, "y_test": sample.y_test + 5},
        "all zeros": {**good, "x_test": np.zeros_like(sample.x_test)},
    }
    for msg, arrays in cases.items():
        with pytest.raises(EdgeDigitsError, match=msg):
            data.load_mnist(write_npz(tmp_path / "m.npz", **arrays))


def test_object_arrays_are_refused_without_pickle(tmp_path, sample):
    p = tmp_path / "evil.npz"
    np.savez(p, x_train=np.array([object()], dtype=object), y_train=sample.y_train, x_test=sample.x_test,
             y_test=sample.y_test)
    with pytest.raises(EdgeDigitsError, match="evil.npz"):
        data.load_mnist(p)


def test_nothing_found_names_three_ways(no_full_data):
    with pytest.raises(EdgeDigitsError) as e:
        data.load_mnist(download=False)
    msg = str(e.value)
    assert "--data" in msg and "EDGE_DIGITS_DATA" in msg and "mnist.npz" in msg and "\n" not in msg


def test_eval_set_falls_back_to_sample(no_full_data):
    d = data.load_eval_set()
    assert d.eval_set == "sample" and len(d.x_test) == 2000


def test_calibration_comes_from_training_images(sample):
    a = data.calibration_samples(sample.x_train, 100, seed=1)
    b = data.calibration_samples(sample.x_train, 100, seed=1)
    assert a.shape == (100, 28, 28) and np.array_equal(a, b)
    rows = {r.tobytes() for r in sample.x_train}
    assert all(r.tobytes() in rows for r in a)
    with pytest.raises(EdgeDigitsError):
        data.calibration_samples(sample.x_train, 0)


def test_sklearn_digits_offline():
    pytest.importorskip("sklearn")
    d = data.load_sklearn_digits()
    assert d.x_train.shape[1:] == (8, 8) and len(d.x_train) + len(d.x_test) == 1797 and d.x_train.max() == 255
