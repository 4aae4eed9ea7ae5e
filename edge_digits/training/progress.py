"""What training shows while it runs: a line an epoch with the time left, a Rich bar within the epoch on a
terminal, and the best weights kept for Ctrl-C and the end (a Keras callback)."""
from __future__ import annotations

import sys
import time


def progress_callback(cfg, epochs: int):
    import keras

    class Progress(keras.callbacks.Callback):
        """One line per epoch with the time left, and the best weights kept for Ctrl-C and the end. On a
        terminal, a Rich bar on stderr shows the steps of the epoch under way, with its ETA."""

        def __init__(self):
            super().__init__()
            self.t0 = time.time()
            self.best, self.best_weights, self.epochs_run = -1.0, None, 0
            self.bar = self.task = None
            self.steps = None

        def on_train_begin(self, logs=None):
            self.steps = (self.params or {}).get("steps")
            if cfg.verbose and sys.stderr.isatty() and self.steps:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("ETA"), TimeRemainingColumn(), transient=True,
                                    console=Console(stderr=True))
                self.bar.start()

        def on_epoch_begin(self, epoch, logs=None):
            if self.bar is not None:
                if self.task is not None:
                    self.bar.remove_task(self.task)
                self.task = self.bar.add_task(f"epoch {epoch + 1}/{epochs}", total=self.steps)

        def on_train_batch_end(self, batch, logs=None):
            if self.bar is not None and self.task is not None:
                self.bar.update(self.task, completed=batch + 1)

        def on_train_end(self, logs=None):
            if self.bar is not None:
                self.bar.stop()
                self.bar = None

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.epochs_run = epoch + 1
            if logs.get("val_accuracy", 0) > self.best:
                self.best, self.best_weights = logs["val_accuracy"], self.model.get_weights()
            el = time.time() - self.t0
            left = el / (epoch + 1) * (epochs - epoch - 1)
            log = self.bar.console.print if self.bar is not None else (lambda m: print(m, file=sys.stderr, flush=True) if cfg.verbose else None)
            log(f"epoch {epoch + 1:>3}/{epochs}  loss {logs.get('loss', 0):.4f}  acc {logs.get('accuracy', 0):.4f}"
                 f"  val_loss {logs.get('val_loss', 0):.4f}  val_acc {logs.get('val_accuracy', 0):.4f}"
                 f"  {el:6.0f}s  ~{left:4.0f}s left")

    return Progress()
