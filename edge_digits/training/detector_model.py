"""A tiny fully convolutional digit detector (CenterNet-style centres + sizes, CRAFT-style links).

Net: uint8 grey (H, W, 1), H and W multiples of 8 (any size; exported at 240x320) -> two maps at 1/4:
  prob (H/4, W/4, 2) sigmoid: [digit centre heatmap, link map]
  geom (H/4, W/4, 4) linear:  [log w, log h (net-input px), centre offset x, y (cells)]
see edge_digits/vision/detector.py for the decoding and the letterbox of frames of other shapes.

Input: the grey frame and, beside it, its ink against the local paper level (max pooling over ~20 px,
smoothed: a shadow's edge or a vignette shifts paper and ink alike; against the grey alone, dev recall
71.5% and precision 72.5%, with it 73.4% and 75.3%).
Backbone: a stride-2 3x3 stem, depthwise-separable blocks down to 1/32 (receptive field ~ 400 px, so a
digit 70% of the frame tall is seen whole), an FPN-like top-down merge (1x1 lateral + nearest x2
upsample, cropped to the finer level so sizes that are not multiples of 32 work) back to 1/4, and a
small depthwise-separable head.

Losses: CenterNet's penalty-reduced focal loss on the heatmap (ignore regions masked), a quality focal
loss (soft-target BCE times |t - p|^2) on the link map, L1 on log size and offset on the 3x3 cells around
each peak (offset weighted 2: it is in cells, and a cell is a large share of a small digit).
"""
from __future__ import annotations

import math



import keras
from keras import layers, ops



IN_SHAPE = (240, 320, 1)


@keras.saving.register_keras_serializable(package="edge_det")
class UpTo(layers.Layer):
    """Nearest x`factor` upsampling of `small`, cropped to the spatial size of `big` (odd sizes: 15 <- 8)."""

    def __init__(self, factor: int = 2, **kw):
        super().__init__(**kw)
        self.factor = factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}

    def call(self, small, big):
        h, w = ops.shape(small)[1], ops.shape(small)[2]
        if small.shape[-1] == 1:
            # one channel (the paper level, x4): the same nearest upsampling as a transposed convolution
            # with a kernel of ones, which int8 LiteRT runs in 0.45 ms a frame against 0.8 for the resize
            f = self.factor
            up = ops.conv_transpose(small, ops.ones((f, f, 1, 1), small.dtype), strides=f, padding="valid")
        else:
            up = ops.image.resize(small, (self.factor * h, self.factor * w), interpolation="nearest")
        return up[:, : ops.shape(big)[1], : ops.shape(big)[2], :]

    def compute_output_shape(self, small_shape, big_shape):
        return (small_shape[0], big_shape[1], big_shape[2], small_shape[3])


def _cbr(x, filters, k=1, s=1, name=None):
    x = layers.Conv2D(filters, k, strides=s, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _ds(x, filters, s=1, k=3, name=None):
    """Depthwise-separable block: DW kxk (stride s) + BN + ReLU, PW 1x1 + BN + ReLU (+ residual)."""
    inp = x
    x = layers.DepthwiseConv2D(k, strides=s, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(name=f"{name}_dwbn")(x)
    x = layers.ReLU(name=f"{name}_dwrelu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(name=f"{name}_pwbn")(x)
    if s == 1 and inp.shape[-1] == filters:
        x = layers.Add(name=f"{name}_add")([x, inp])
    return layers.ReLU(name=f"{name}_pwrelu")(x)


def build_detector(input_shape=IN_SHAPE, width: float = 1.0) -> keras.Model:
    """The detector as a Keras model; input float tensor holding uint8 grey values 0..255."""
    c = lambda n: max(8, int(round(n * width / 8)) * 8)  # noqa: E731
    inp = keras.Input(input_shape, name="grey")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inp)
    # the paper's own level around each pixel (the brightest grey within ~20 px, smoothed over ~40 px:
    # wider than any stroke) minus the pixel: ink against its local paper, so a cast shadow, a gradient or
    # a vignette no longer shifts it; the stem sees this and the grey itself
    paper = layers.MaxPooling2D(4, name="paper_pool")(x)
    paper = layers.MaxPooling2D(5, strides=1, padding="same", name="paper_max")(paper)
    paper = layers.AveragePooling2D(5, strides=1, padding="same", name="paper_blur")(paper)
    ink = layers.Subtract(name="ink")([UpTo(4, name="paper_up")(paper, x), x])
    x = layers.Concatenate(name="grey_ink")([x, ink])
    x = _cbr(x, max(8, int(round(12 * width))), 3, 2, name="stem")  # 1/2
    x = _ds(x, c(24), 2, name="b1")  # 1/4
    c4 = _ds(x, c(24), name="b2")
    x = _ds(c4, c(40), 2, name="b3")  # 1/8
    c8 = _ds(x, c(40), name="b4")
    x = _ds(c8, c(64), 2, name="b5")  # 1/16
    x = _ds(x, c(64), name="b6")
    c16 = _ds(x, c(64), name="b7")
    x = _ds(c16, c(96), 2, name="b8")  # 1/32
    x = _ds(x, c(96), k=5, name="b9")
    c32 = _ds(x, c(96), k=5, name="b10")
    f = c(32)
    p = _cbr(c32, f, name="lat32")
    p = layers.Add(name="td16")([_cbr(c16, f, name="lat16"), UpTo(name="up16")(p, c16)])
    p = _ds(p, f, name="m16")
    p = layers.Add(name="td8")([_cbr(c8, f, name="lat8"), UpTo(name="up8")(p, c8)])
    p = _ds(p, f, name="m8")
    p = layers.Add(name="td4")([_cbr(c4, f, name="lat4"), UpTo(name="up4")(p, c4)])
    p = _ds(p, f, name="h1")
    prob = layers.Conv2D(2, 1, activation="sigmoid", name="prob",
                         bias_initializer=keras.initializers.Constant(-math.log(99.0)))(p)
    geom = layers.Conv2D(4, 1, name="geom", bias_initializer=keras.initializers.Constant([3.0, 3.0, 0.5, 0.5]))(p)
    return keras.Model(inp, {"prob": prob, "geom": geom}, name="digit_detector")


# ----------------------------------------------------------------------------------------- losses
def detector_losses(y, out, w_link=1.0, w_size=1.0, w_off=2.0):
    """y: (B, h, w, 9) stacked targets; out: the model's dict. Returns (total, dict of parts)."""
    y = ops.cast(y, "float32")
    heat, hmask, link = y[..., 0], y[..., 1], y[..., 2]
    size, off, reg = y[..., 3:5], y[..., 5:7], y[..., 7]
    prob, geom = out["prob"], out["geom"]
    p = ops.clip(prob[..., 0], 1e-4, 1 - 1e-4)
    pos = ops.cast(heat >= 0.999, "float32")
    npos = ops.maximum(ops.sum(pos), 1.0)
    pos_l = -ops.log(p) * (1 - p) ** 2 * pos
    neg_l = -ops.log(1 - p) * p ** 2 * (1 - heat) ** 4 * (1 - pos)
    l_heat = ops.sum((pos_l + neg_l) * hmask) / npos
    q = ops.clip(prob[..., 1], 1e-4, 1 - 1e-4)
    bce = -(link * ops.log(q) + (1 - link) * ops.log(1 - q)) * ops.abs(link - q) ** 2
    l_link = ops.sum(bce * hmask) / ops.maximum(ops.sum(link), 1.0)
    # size and offset are read at the peak: train them on the 3x3 cells around each peak only
    reg = reg * ops.max_pool(pos[..., None], 3, strides=1, padding="same")[..., 0]
    nreg = ops.maximum(ops.sum(reg), 1.0)
    l_size = ops.sum(ops.sum(ops.abs(geom[..., 0:2] - size), -1) * reg) / nreg
    l_off = ops.sum(ops.sum(ops.abs(geom[..., 2:4] - off), -1) * reg) / nreg
    total = l_heat + w_link * l_link + w_size * l_size + w_off * l_off
    return total, {"heat": l_heat, "link": l_link, "size": l_size, "off": l_off}


def model_stats(model: keras.Model) -> dict:
    """Parameter count and multiply-accumulates of one frame (convolutions only)."""
    macs = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            h, w, ch = layer.output.shape[1:]
            macs += h * w * ch * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, layers.Conv2D):
            h, w, ch = layer.output.shape[1:]
            macs += h * w * ch * layer.kernel_size[0] * layer.kernel_size[1] * layer.input.shape[-1]
    return {"params": int(model.count_params()), "macs": int(macs)}
