"""Choices and settings shared by every command. No heavy imports here: `--help` loads this module."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent  # a checkout; an installed package has no repo around it
DEFAULT_MODEL_FILE = "edge_int8.tflite"


def models_dir() -> Path:
    """Where the shipped models are, read at each call (never cached at import): $EDGE_DIGITS_MODELS when
    set (a folder laid out like export/), else the models inside the installed package
    (edge_digits/models, which the wheel build fills from export/), else the checkout's export/."""
    env = os.environ.get("EDGE_DIGITS_MODELS")
    if env:
        return Path(env)
    packaged = PACKAGE_DIR / "models"
    if (packaged / "manifest.json").is_file():
        return packaged
    return REPO_DIR / "export"


def default_model() -> Path:
    return models_dir() / DEFAULT_MODEL_FILE  # bench, evaluate and runtime.load() without a model


def camera_model() -> Path:
    return models_dir() / "camera" / "edge-cam_int8.tflite"  # what camera and predict read with by default


def detector_model() -> Path:
    # the learned digit detector of camera and predict: the fp16 file, not the int8 one. LiteRT runs it in float
    # (XNNPACK) faster than the int8 file (2.4 against 3.6 ms a 320x240 frame, one thread, x86), and int8
    # rounding costs the longer-trained detector its lead (benchmarks/camera.md's notes)
    return models_dir() / "detector" / "detector_fp16.tflite"


def detector_int8_model() -> Path:
    return models_dir() / "detector" / "detector_int8.tflite"  # the same net in int8 (--detector-model; ARM boards)


def refine_model() -> Path:
    return models_dir() / "refine" / "box-refine_int8.tflite"  # the net that refines the learned detector's boxes


def accept_model() -> Path:
    return models_dir() / "accept" / "accept.json"  # which of the learned detector's candidates are digits (vision.accept)


def links_model() -> Path:
    return models_dir() / "links" / "links.json"  # which neighbouring candidates are one number (vision.links)


def boxfit_model() -> Path:
    return models_dir() / "boxfit" / "box-fit_int8.tflite"  # the net that grows each box to the whole digit


def sample_path() -> Path:
    """The bundled class-balanced MNIST sample (tests/data in a checkout, packaged in a wheel)."""
    packaged = PACKAGE_DIR / "models" / "mnist_sample.npz"
    return packaged if packaged.is_file() else REPO_DIR / "tests" / "data" / "mnist_sample.npz"


# The camera model is trained to give no opinion on what is no whole digit (a piece, a speck, two
# neighbours together: edge_digits.camera_data), so a low score means "not a digit". With the learned
# detector, its refiner and the edge-cam trained on the refined crops, on 500 development pages: 0.2 recall
# 80.9% / precision 86.8% / read right 73.9%, 0.3 79.2 / 89.5 / 73.5, 0.4 77.4 / 91.8 / 72.7; and on 200
# pages of the old generator (data.synth, MNIST train[50000:], seed 4321) precision 71.1% / 81.6% / 88.6%
# at the same recall (81.7 / 81.7 / 81.5): ink specks there read as a 4 at 0.2-0.45. The rules path moves
# little (those synth pages: 99.2 / 99.7 at 0.2, 99.1 / 99.8 at 0.3). Since then the learned reader's accept
# model (vision.accept) decides instead; this floor is the rules path's, and a learned reader's without one.
MIN_CONFIDENCE = 0.3


# What the `train` extra brings; a base (edge runtime) install has none of them.
TRAIN_MODULES = {"tensorflow", "keras", "tf2onnx", "onnx", "matplotlib", "sklearn", "tf_keras"}


def training_tools_missing(e: ModuleNotFoundError) -> str | None:
    """The one line for a missing module of the train extra (None for any other module)."""
    name = (e.name or "").split(".")[0]
    if name not in TRAIN_MODULES:
        return None
    return f"needs TensorFlow and the training tools ({name} is not installed): pip install 'edge-digits[train]'"


class EdgeDigitsError(Exception):
    """A user-facing problem: the CLI prints it as one line and exits with code 2."""


MAX_THREADS = 256  # more is a typo: runtimes segfault, hang or overflow a C int on 99999 or 2**32 + 1
MAX_CAMERA_INDEX = 63  # OpenCV segfaults on -1 and overflows on 99999999999; no machine has 64 cameras


def check_threads(threads: int | None, what: str = "--threads") -> int | None:
    """None (the runtime's default) or a thread count in 1..MAX_THREADS; EdgeDigitsError otherwise."""
    if threads is None:
        return None
    if threads <= 0:
        raise EdgeDigitsError(f"{what} must be > 0, got {threads}")
    if threads > MAX_THREADS:
        raise EdgeDigitsError(f"{what} must be at most {MAX_THREADS}, got {threads}")
    return threads


def check_number(what: str, value, lo=None, hi=None, lo_open: bool = False) -> None:
    """A finite number within [lo, hi] (or (lo, hi] with lo_open); EdgeDigitsError naming the option."""
    import math

    if value is None:
        return
    if not math.isfinite(value):
        raise EdgeDigitsError(f"{what} must be a finite number, got {value}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise EdgeDigitsError(f"{what} must be {'>' if lo_open else '>='} {lo}, got {value}")
    if hi is not None and value > hi:
        raise EdgeDigitsError(f"{what} must be at most {hi}, got {value}")


class Arch(str, Enum):
    edge = "edge"
    edge_cam = "edge-cam"  # the edge CNN also trained on digits as the camera pipeline crops them
    mlp = "mlp"
    mlp_small = "mlp-small"
    cnn = "cnn"
    digits8x8 = "digits8x8"
    detector = "detector"  # the learned digit detector of camera and predict (training.detector), not a classifier


class Detector(str, Enum):
    learned = "learned"  # the default: the learned detector (vision.detector), numbers from its links
    rules = "rules"  # the hand-tuned detector and box fit (vision.rules), kept as a baseline


class Dataset(str, Enum):
    mnist = "mnist"
    sample = "sample"  # the bundled deterministic MNIST sample, works offline
    sklearn_digits = "sklearn-digits"


class Optimizer(str, Enum):
    sgd = "sgd"
    rmsprop = "rmsprop"
    adam = "adam"
    adagrad = "adagrad"
    adadelta = "adadelta"


class Format(str, Enum):
    keras = "keras"
    tflite = "tflite"
    onnx = "onnx"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"


class Runtime(str, Enum):
    litert = "litert"
    onnxruntime = "onnxruntime"
    opencv = "opencv"
    keras = "keras"


@dataclass
class TrainConfig:
    arch: Arch = Arch.edge
    dataset: Dataset = Dataset.mnist
    epochs: int | None = None  # None: the recipe's own default
    batch_size: int | None = None
    optimizers: list[Optimizer] = field(default_factory=list)  # empty: the recipe's own optimizer
    lr: float | None = None
    augment: bool | None = None  # None: the recipe's default (on for edge)
    camera_pages: int | None = None  # None: the recipe's (edge-cam: 8000 pages of camera crops; others 0)
    init: Path | None = None  # detector: start from this model file's weights (fine-tuning) instead of random ones
    focus: str | None = None  # detector: "condition=value:share", forced on that share of the training pages
    usps: Path | None = None  # USPS .npz for recipes that train on it (edge-cam); None: $EDGE_DIGITS_USPS
    seed: int = 0
    data: Path | None = None
    out: Path = Path("runs/train")
    force: bool = False
    verbose: bool = True


@dataclass
class ExportConfig:
    source: Path
    out: Path = Path("export")
    formats: list[Format] = field(default_factory=lambda: [Format.tflite, Format.onnx])
    int8: bool = False
    fp16: bool = False
    calib_samples: int = 500
    imgsz: str | tuple[int, int] | None = None  # the detector's input "WxH" or (W, H) in the files; None: as trained
    max_drop: float = 0.1
    min_accuracy: float = 0.5  # an absolute floor besides max_drop: below it the model is useless
    data: Path | None = None
    force: bool = False
    seed: int = 0
