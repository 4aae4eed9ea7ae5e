"""Model builders, one function per architecture, plus each recipe's training defaults.

Every model takes float32 (N, H, W, 1) images scaled to 0..1 (ink high) and returns N x 10 probabilities.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from edge_digits.config import Arch, Optimizer


@dataclass(frozen=True)
class Recipe:
    optimizer: Optimizer
    lr: float
    epochs: int
    batch_size: int
    augment: bool
    early_stop_patience: int | None = None  # on validation accuracy
    cosine: bool = False  # cosine learning-rate decay with a short warm-up; keeps the final weights
    ema: bool = False  # exponential moving average of the weights (smoother final model)
    nesterov: bool = False
    input_size: int = 28
    # photo-like pages of training digits cut out by the camera pipeline and added to the training set,
    # `camera_repeat` times over (edge_digits.camera_data)
    camera_pages: int = 0
    camera_repeat: int = 1
    usps_repeat: int = 0  # USPS training digits (a second population of writers) added this many times over


RECIPES: dict[Arch, Recipe] = {
    Arch.mlp: Recipe(Optimizer.rmsprop, 1e-3, 20, 128, False, early_stop_patience=3),
    Arch.mlp_small: Recipe(Optimizer.adam, 1e-3, 10, 128, False),
    Arch.cnn: Recipe(Optimizer.sgd, 0.01, 12, 128, False, nesterov=True),
    Arch.digits8x8: Recipe(Optimizer.adam, 2e-3, 60, 32, False, input_size=8),
    Arch.edge: Recipe(Optimizer.adam, 3e-3, 40, 128, True, cosine=True, ema=True),
    # edge_cam (edge with more multiply-adds) and edge's schedule, with MNIST's 55k, the USPS training digits
    # (x3: another population of writers) and the crops the learned detector cuts out of 8000 generated photo
    # pages of those training digits, some of them no whole digit (training.camera_data): benchmarks/camera.md.
    Arch.edge_cam: Recipe(Optimizer.adam, 3e-3, 40, 128, True, cosine=True, ema=True, camera_pages=8000,
                          camera_repeat=1, usps_repeat=3),
}


def mlp(input_size: int = 28) -> keras.Model:
    """The classic Keras mnist_mlp example: 669,706 parameters."""
    return keras.Sequential([
        keras.Input((input_size, input_size, 1)),
        layers.Flatten(),
        layers.Dense(512, activation="relu"), layers.Dropout(0.2),
        layers.Dense(512, activation="relu"), layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ], name="mlp")


def mlp_small(input_size: int = 28) -> keras.Model:
    return keras.Sequential([
        keras.Input((input_size, input_size, 1)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="mlp_small")


def cnn(input_size: int = 28) -> keras.Model:
    """The origins' CNN: conv64-pool-relu-drop, conv32-pool-relu-drop, dense 512-256-10."""
    return keras.Sequential([
        keras.Input((input_size, input_size, 1)),
        layers.Conv2D(64, 3), layers.MaxPooling2D(), layers.ReLU(), layers.Dropout(0.25),
        layers.Conv2D(32, 3), layers.MaxPooling2D(), layers.ReLU(), layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(512, activation="relu"), layers.Dropout(0.25),
        layers.Dense(256, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="cnn")


def digits8x8(input_size: int = 8) -> keras.Model:
    """A small CNN for scikit-learn's 8x8 digits."""
    return keras.Sequential([
        keras.Input((input_size, input_size, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ], name="digits8x8")


def _conv_bn(x, filters, kernel=3, **kw):
    # No conv bias: batch norm follows, and the converters fold both into one integer conv.
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, **kw)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _edge_net(input_size: int, mid: tuple[int, ...], dense: int, name: str) -> keras.Model:
    """The edge family: a 16-channel 3x3 conv at 28x28, the `mid` convs at 14x14, 64 channels at 7x7, each
    stage max-pooled, then a small dense layer over the 3x3 map (dropout 0.2 and 0.1) and the softmax."""
    inp = keras.Input((input_size, input_size, 1))
    x = _conv_bn(inp, 16)                   # 28x28x16
    x = layers.MaxPooling2D()(x)            # 14x14
    for ch in mid:
        x = _conv_bn(x, ch)
    x = layers.MaxPooling2D()(x)            # 7x7
    x = _conv_bn(x, 64)
    x = layers.MaxPooling2D()(x)            # 3x3
    x = layers.Flatten()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(dense, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, x, name=name)


def edge(input_size: int = 28) -> keras.Model:
    """Our edge CNN: three dense 3x3 convs with batch norm (GEMM-friendly for XNNPACK and ONNX Runtime;
    depthwise convs save multiply-adds but run far below peak). Channels are multiples of 16, the width of
    XNNPACK's int8 kernels, so no lane is wasted, and most parameters sit where they are cheap: 64 channels
    at 7x7 and a small dense layer over a 3x3 map, where a parameter costs 1 multiply-add, not 196 or 784."""
    return _edge_net(input_size, (16,), 48, "edge")


def edge_cam(input_size: int = 28) -> keras.Model:
    """The camera's reader: edge with a second 3x3 conv at 14x14 and twice its channels there (about 3.6x
    edge's multiply-adds, 52k parameters: the int8 file stays under 64 KB), and a narrower dense layer. It
    learns MNIST, USPS, the camera's crops and when a crop is no digit at once; on edge's own net that
    read 99.39% of MNIST (edge, on MNIST alone, 99.61%). A wider one (64-64 channels at 7x7, a dense 96:
    117k parameters, 132 KB int8) read 99.51% of MNIST and 98.31% of USPS against this one's 99.45% and
    98.45% (trained on the unrefined crops; 99.48% and 98.36% on the refined ones), and the camera's dev
    pages alike, at the same speed in the camera (the frame's few crops cost the call, not the multiply-adds)."""
    return _edge_net(input_size, (32, 32), 32, "edge_cam")


def box_fit(width: int = 16) -> keras.Model:
    """The box-fit net of edge_digits.boxfit: a 28x28 window around a candidate -> the whole digit's box
    (x0, y0, x1, y1) in window units. Not a classifier (no Arch): scripts/train_boxfit.py trains it."""
    inp = keras.Input((28, 28, 1), name="input")
    x = layers.Conv2D(width, 3, padding="same", activation="relu")(inp)
    x = layers.MaxPooling2D()(x)            # 14x14
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)            # 7x7
    x = layers.Conv2D(4 * width, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    return keras.Model(inp, layers.Dense(4, name="output")(x), name="box_fit")


BUILDERS = {Arch.mlp: mlp, Arch.mlp_small: mlp_small, Arch.cnn: cnn, Arch.digits8x8: digits8x8, Arch.edge: edge,
            Arch.edge_cam: edge_cam}


def build(arch: Arch) -> keras.Model:
    if arch == Arch.detector:
        from edge_digits.training.detector_model import build_detector

        return build_detector()
    return BUILDERS[arch](RECIPES[arch].input_size)


def flops_per_digit(model: keras.Model) -> int:
    """2 x multiply-adds of the conv and dense layers for one input (batch norm folds into the conv,
    pooling and activations are ignored): the usual convention of MNIST and MobileNet papers. Written by
    hand because Keras 3 has no FLOP counter and tf.profiler needs a TF1 graph."""
    macs = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            out = layer.output.shape  # (None, h, w, c)
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            macs += out[1] * out[2] * out[3] * kh * kw * cin // layer.groups
        elif isinstance(layer, layers.DepthwiseConv2D):
            out = layer.output.shape
            kh, kw = layer.kernel_size
            macs += out[1] * out[2] * out[3] * kh * kw
        elif isinstance(layer, layers.Dense):
            macs += layer.input.shape[-1] * layer.units
    return 2 * int(macs)
