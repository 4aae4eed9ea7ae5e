"""Classification metrics (numpy only) and the training/evaluation plots (matplotlib, imported lazily)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_digits.core.provenance import pyplot as _plt


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    y_true = np.asarray(y_true).astype(int)
    pred = probs.argmax(1)
    n = probs.shape[1]
    cm = np.zeros((n, n), dtype=int)
    np.add.at(cm, (y_true, pred), 1)
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
    p = np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    return {
        "accuracy": float((pred == y_true).mean()),
        "loss": float(-np.log(p).mean()),
        "n": int(len(y_true)),
        "errors": int((pred != y_true).sum()),
        "per_class": {str(c): {"precision": round(float(precision[c]), 5), "recall": round(float(recall[c]), 5),
                               "support": int(cm[c].sum())} for c in range(n)},
        "confusion_matrix": cm.tolist(),
    }


def _epoch_ticks(ax) -> None:
    """Whole-number epoch ticks (matplotlib would put 0.5, 1.5, ... on a short run)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def cell_text_color(value: float, vmax: float, cmap="Blues") -> str:
    """White on a dark cell, black on a light one, from the cell colour's luminance."""
    import matplotlib

    if vmax <= 0:
        return "black"
    r, g, b, _ = matplotlib.colormaps[cmap](value / vmax)
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "black"


def plot_curves(history: dict, path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ep = np.arange(1, len(history.get(key, [])) + 1)
        ax.plot(ep, history.get(key, []), label="train")
        if f"val_{key}" in history:
            ax.plot(ep, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        _epoch_ticks(ax)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(cm: list, path: Path, title: str = "confusion matrix (test)") -> None:
    plt = _plt()
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    shade = np.log1p(cm)
    vmax = float(shade.max())
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=vmax or 1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color=cell_text_color(shade[i, j], vmax))
    ax.set_xticks(range(cm.shape[1]))
    ax.set_yticks(range(cm.shape[0]))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_misclassified(x: np.ndarray, y: np.ndarray, probs: np.ndarray, path: Path, n: int = 36) -> None:
    """The worst errors: wrong predictions with the highest confidence."""
    plt = _plt()
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])][:n]
    cols = 9
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(x[i], cmap="gray")
        ax.set_title(f"{y[i]}->{pred[i]} {probs[i, pred[i]]:.2f}", fontsize=8, color="crimson")
    fig.suptitle("worst errors: true->predicted confidence" if len(wrong) else "no errors", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_comparison(rows: list[dict], path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in rows:
        h = r["history"]
        ep = np.arange(1, len(h["val_accuracy"]) + 1)
        axes[0].plot(ep, h["val_loss"], label=r["optimizer"])
        axes[1].plot(ep, h["val_accuracy"], label=r["optimizer"])
    for ax, t in zip(axes, ("validation loss", "validation accuracy")):
        ax.set_title(t)
        ax.set_xlabel("epoch")
        _epoch_ticks(ax)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
