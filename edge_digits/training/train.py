"""Training loop and run reports. A run folder is built in a temporary sibling and renamed when complete,
so an interrupted or failed run never leaves a half-written model behind."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_digits.training import reports
from edge_digits.training.progress import progress_callback
from edge_digits.config import Arch, Dataset, EdgeDigitsError, Optimizer, TrainConfig
from edge_digits.data.mnist import Digits, load_dataset
from edge_digits.core import files, provenance
from edge_digits.core.quiet import import_tensorflow as tensorflow
from edge_digits.core.signals import interrupts_deferred



@dataclass
class RunResult:
    out: Path
    metrics: dict


def _log(msg: str, cfg: TrainConfig) -> None:
    if cfg.verbose:
        print(msg, file=sys.stderr, flush=True)


def _strategy():
    tf = tensorflow()

    gpus = tf.config.list_logical_devices("GPU")
    # MirroredStrategy spreads each batch over every visible GPU; on a CPU-only box one replica on the CPU.
    return tf.distribute.MirroredStrategy() if gpus else tf.distribute.OneDeviceStrategy("/cpu:0")


def _optimizer(name: Optimizer, lr, recipe, steps: int):
    import keras

    if recipe.cosine:
        warm = max(1, steps // 30)
        lr = keras.optimizers.schedules.CosineDecay(lr * 0.1, decay_steps=steps - warm, alpha=0.01,
                                                    warmup_target=lr, warmup_steps=warm)
    kw = {"learning_rate": lr, "use_ema": recipe.ema}  # fit() swaps the EMA weights in when it ends
    opts = {
        Optimizer.sgd: lambda: keras.optimizers.SGD(momentum=0.9, nesterov=recipe.nesterov, **kw),
        Optimizer.rmsprop: lambda: keras.optimizers.RMSprop(**kw),
        Optimizer.adam: lambda: keras.optimizers.Adam(**kw),
        Optimizer.adagrad: lambda: keras.optimizers.Adagrad(**kw),
        Optimizer.adadelta: lambda: keras.optimizers.Adadelta(**kw),
    }
    return opts[name]()


def _split(d: Digits, seed: int):
    n_val = 5000 if len(d.x_train) >= 50000 else max(1, len(d.x_train) // 10)
    order = np.random.default_rng(seed).permutation(len(d.x_train))
    return order[n_val:], order[:n_val]


def _prep(x: np.ndarray, size: int) -> np.ndarray:
    x = x.astype(np.float32)[..., None] / 255.0
    if x.shape[1] != size:
        raise EdgeDigitsError(f"images are {x.shape[1]}x{x.shape[2]}, this arch takes {size}x{size}")
    return x


def train_one(cfg: TrainConfig, d: Digits, opt_name: Optimizer | None, out: Path) -> RunResult:
    tf = tensorflow()
    import warnings

    import keras

    from edge_digits.training import models

    # Our dataset is shuffled by tf.data itself; Keras warns that its own shuffle flag is then unused.
    warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
    from edge_digits.training.augment import train_dataset

    recipe = models.RECIPES[cfg.arch]
    opt_name = opt_name or recipe.optimizer
    epochs = cfg.epochs or recipe.epochs
    batch = cfg.batch_size or recipe.batch_size
    augment = recipe.augment if cfg.augment is None else cfg.augment
    lr = cfg.lr or recipe.lr
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()

    commit = provenance.git_commit()  # now: the tree may change while the model trains
    tr, va = _split(d, cfg.seed)
    x_val, y_val = _prep(d.x_train[va], recipe.input_size), d.y_train[va]
    if batch > len(tr):  # a batch bigger than the data only allocates memory for nothing
        _log(f"note: --batch-size {batch} is more than the {len(tr):,} training images; using {len(tr):,}", cfg)
        batch = len(tr)
    steps = max(1, int(np.ceil(len(tr) / batch)))
    x_tr, y_tr, n_cam, n_not = d.x_train[tr], d.y_train[tr], 0, 0
    pages = recipe.camera_pages if cfg.camera_pages is None else cfg.camera_pages
    usps = _usps(cfg, recipe)
    n_usps = 0
    if usps is not None:
        from edge_digits.training.camera_data import usps_as_mnist

        ux = usps_as_mnist(usps.x_train)  # the training part only: its test part is a benchmark
        n_usps = len(ux)
        x_tr, y_tr = np.concatenate([x_tr] + [ux] * recipe.usps_repeat), np.concatenate([y_tr] + [usps.y_train] * recipe.usps_repeat)
        _log(f"{n_usps:,} USPS training digits ({usps.source}) x{recipe.usps_repeat}", cfg)
    if pages:
        from edge_digits.training.camera_data import NOT_A_DIGIT, camera_crops

        t0 = time.time()
        cx, cy = camera_crops(d.x_train[tr], d.y_train[tr], pages, cfg.seed + 1_000_000,
                              usps=(usps.x_train, usps.y_train) if usps is not None else None)
        n_cam, n_not = len(cx), int((cy == NOT_A_DIGIT).sum())
        _log(f"{len(cx):,} camera crops ({n_not:,} of them no whole digit) from {pages} generated photo pages "
             f"({time.time() - t0:.0f} s)", cfg)
        x_tr = np.concatenate([x_tr] + [cx] * recipe.camera_repeat)
        y_tr = np.concatenate([y_tr] + [cy] * recipe.camera_repeat)
    # an epoch stays len(tr) images long: the camera crops change what the model sees, not how long it trains
    ds = train_dataset(x_tr, y_tr, batch, cfg.seed, augment)

    strategy = _strategy()
    with strategy.scope():
        model = models.build(cfg.arch)
        model.compile(optimizer=_optimizer(opt_name, lr, recipe, steps * epochs),
                      loss=_digit_or_not_loss if pages else "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    progress = progress_callback(cfg, epochs)
    callbacks = [progress]
    if recipe.early_stop_patience:
        # On validation accuracy: RMSprop's validation loss turns up within a few epochs while accuracy still
        # climbs, so stopping on loss left the classic MLP 0.4 points short of its reference.
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=recipe.early_stop_patience,
                                                       restore_best_weights=True))
    _log(f"training {cfg.arch.value} ({model.count_params():,} parameters) with {opt_name.value}, "
         f"{epochs} epochs, batch {batch}, augment {'on' if augment else 'off'}, "
         f"{strategy.num_replicas_in_sync} replica(s), data {d.source}", cfg)
    t0 = time.time()
    interrupted = False
    history = None
    # Ctrl-C asks Keras to stop after the current step, and the best epoch so far is kept. Left to Python's
    # default, the KeyboardInterrupt can land inside TensorFlow's own handlers, which sometimes swallow it and
    # let the run go on (seen on a busy machine); a second Ctrl-C stops at once.
    asked = []

    def on_ctrl_c(signum, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(True)
        model.stop_training = True

    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, on_ctrl_c) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        history = model.fit(ds, steps_per_epoch=steps, epochs=epochs, validation_data=(x_val, y_val),
                            callbacks=callbacks, verbose=0)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        progress.on_train_end()  # stops the bar after Ctrl-C too
    interrupted = interrupted or bool(asked)
    if interrupted:
        _log("interrupted: keeping the best model so far", cfg)
    train_s = time.time() - t0
    # After Ctrl-C fit() returns nothing, but Keras' History callback on the model holds the epochs so far.
    recorder = history or getattr(model, "history", None)
    hist = recorder.history if recorder else {}
    if progress.best_weights is None:
        raise EdgeDigitsError("interrupted before the first epoch finished: nothing to save")
    if interrupted or not (recipe.early_stop_patience or recipe.cosine):
        # The best validation epoch. Early stopping restores its own; a cosine schedule ends at its best.
        model.set_weights(progress.best_weights)

    metrics = evaluate_model(model, d, recipe.input_size)
    if usps is not None:  # the cross-dataset figure: USPS test digits, never trained on
        from edge_digits.training.camera_data import usps_as_mnist

        up = model.predict(_prep(usps_as_mnist(usps.x_test), 28), batch_size=1024, verbose=0)
        metrics["usps_test_accuracy"] = round(float((up[:, :10].argmax(1) == usps.y_test).mean()), 5)
        _log(f"USPS test ({len(usps.y_test):,} digits): {metrics['usps_test_accuracy'] * 100:.2f}%", cfg)
    metrics.update({
        "arch": cfg.arch.value, "optimizer": opt_name.value, "lr": lr, "batch_size": batch, "augment": augment,
        "parameters": int(model.count_params()), "flops_per_digit": models.flops_per_digit(model),
        "train_seconds": round(train_s, 1), "epochs_run": progress.epochs_run, "epochs_planned": epochs,
        "interrupted": interrupted, "seed": cfg.seed, "camera_crops": n_cam, "camera_not_digits": n_not,
        "usps_train_digits": n_usps,
        "data": {"source": d.source, "sha256": d.sha256, "eval_set": d.eval_set},
        "versions": provenance.library_versions(), "git_commit": commit,
    })
    with interrupts_deferred() as got:  # a second Ctrl-C here would lose the model the first one kept
        if interrupted:
            _log("saving the run; further Ctrl-C is ignored until the save is done", cfg)
        _write_run(out, model, metrics, hist, d, cfg)
    if got:
        _log("interrupt during the final save: the save was finished first", cfg)
    if metrics["accuracy"] < USELESS_ACCURACY:
        _log(f"warning: the model did not learn; test accuracy {metrics['accuracy'] * 100:.1f}% (chance is 10%). "
             "Train longer (--epochs), on more data (--dataset mnist) or with another --lr/--optimizer.", cfg)
    return RunResult(out, metrics)


def _usps(cfg: TrainConfig, recipe):
    """USPS for a recipe that takes it: --usps / $EDGE_DIGITS_USPS, else None with a note (the recipe
    then trains on MNIST and the camera crops alone)."""
    from edge_digits.data.usps import load_usps, usps_path

    if not recipe.usps_repeat:
        if cfg.usps:
            _log(f"note: --usps ignored, the {cfg.arch.value} recipe trains on MNIST only", cfg)
        return None
    if usps_path(cfg.usps) is None:
        _log("note: no USPS given (--usps or EDGE_DIGITS_USPS): training without its digits", cfg)
        return None
    return load_usps(cfg.usps)


USELESS_ACCURACY = 0.5  # below this test accuracy `train` warns and `export` refuses by default


def write_history_csv(hist: dict, path: Path) -> None:
    """history.csv: one row per epoch, the Keras history's columns (loss, accuracy, val_loss, ...)."""
    keys = list(hist or {})
    lines = [",".join(["epoch", *keys])]
    for i in range(max((len(v) for v in (hist or {}).values()), default=0)):
        lines.append(",".join([str(i + 1), *(f"{float(hist[k][i]):.6g}" if i < len(hist[k]) else "" for k in keys)]))
    path.write_text("\n".join(lines) + "\n")


def _digit_or_not_loss(y_true, y_pred):
    """Cross-entropy against the label for a digit, and against the uniform distribution for a camera
    crop that is no whole digit (camera_data.NOT_A_DIGIT): "outlier exposure" (Hendrycks et al., 2019).
    A piece of a 4 then scores low instead of reading as a sure 1, so --min-confidence rejects it and the
    detector can offer a digit's pieces both apart and joined, and let the model choose."""
    from keras import losses, ops

    from edge_digits.training.camera_data import NOT_A_DIGIT

    y = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    k = ops.shape(y_pred)[-1]
    digit = y < NOT_A_DIGIT
    target = ops.where(ops.expand_dims(digit, -1), ops.one_hot(ops.minimum(y, k - 1), k), 1.0 / k)
    # at a quarter weight: at full weight and at the paper's half, the model read the development pages'
    # real digits worse (97.7% and 97.9% of them right, against 98.1% here and without it)
    return losses.categorical_crossentropy(target, y_pred) * ops.where(digit, 1.0, 0.25)


def evaluate_model(model, d: Digits, size: int = 28) -> dict:
    probs = model.predict(_prep(d.x_test, size), batch_size=1024, verbose=0)
    m = reports.classification_metrics(d.y_test, probs)
    m["_probs"] = probs
    return m


def _write_run(out: Path, model, metrics: dict, hist: dict, d: Digits, cfg: TrainConfig) -> None:
    probs = metrics.pop("_probs")
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        from edge_digits.training import models

        # A fresh, uncompiled copy: no optimizer state (a third of the file size, and nothing a user needs),
        # and no training loss a loader would have to find (keras' clone_model would carry both along).
        clean = models.build(cfg.arch)
        clean.set_weights(model.get_weights())
        clean.save(tmp / "model.keras")
        metrics["history"] = {k: [round(float(v), 5) for v in vals] for k, vals in (hist or {}).items()}
        files.write_json(tmp / "metrics.json", metrics)
        write_history_csv(hist or {}, tmp / "history.csv")
        reports.plot_curves(hist or {}, tmp / "curves.png")
        reports.plot_confusion(metrics["confusion_matrix"], tmp / "confusion.png")
        reports.plot_misclassified(d.x_test, d.y_test, probs, tmp / "misclassified.png")
        _publish_run(tmp, out, cfg.force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish_run(tmp: Path, out: Path, force: bool) -> None:
    """Rename a finished run folder into place. A run folder that appeared while this one trained (a second
    `train --out` at once) is kept without --force, and this run is moved next to it under another name."""
    if out.exists() and not force:
        alt = out.with_name(f"{out.name}.{os.getpid()}")
        os.replace(tmp, alt)
        raise EdgeDigitsError(f"{out}: appeared while this run was training; kept it and saved this run "
                              f"as {alt} (use --force to replace)")
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    os.replace(tmp, out)


def prepare_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise EdgeDigitsError(f"{out}: exists and is not a folder (--out names a run folder)")
    if out.exists() and not force:
        raise EdgeDigitsError(f"{out}: run folder exists (use --force to replace it)")
    files.check_writable(out, folder=True)


def train(cfg: TrainConfig) -> list[RunResult]:
    """Train one model per optimizer; with several, also write a comparison table and plot."""
    if cfg.epochs is not None and cfg.epochs <= 0:
        raise EdgeDigitsError(f"--epochs must be > 0, got {cfg.epochs}")
    if cfg.batch_size is not None and cfg.batch_size <= 0:
        raise EdgeDigitsError(f"--batch-size must be > 0, got {cfg.batch_size}")
    if cfg.lr is not None and cfg.lr <= 0:
        raise EdgeDigitsError(f"--lr must be > 0, got {cfg.lr}")
    if cfg.camera_pages is not None and cfg.camera_pages < 0:
        raise EdgeDigitsError(f"--camera-pages must be >= 0, got {cfg.camera_pages}")
    if cfg.camera_pages and cfg.arch == Arch.digits8x8:
        raise EdgeDigitsError("--camera-pages needs a 28x28 model; digits8x8 reads 8x8 images")
    if (cfg.arch == Arch.digits8x8) != (cfg.dataset == Dataset.sklearn_digits):
        raise EdgeDigitsError("--arch digits8x8 goes with --dataset sklearn-digits (8x8 images), and only it")
    if cfg.init is not None and cfg.arch != Arch.detector:
        raise EdgeDigitsError("--init (fine-tuning from a model file) applies to --arch detector only")
    if cfg.focus is not None:
        if cfg.arch != Arch.detector:
            raise EdgeDigitsError("--focus (a page condition forced on a share of the pages) applies to --arch detector only")
        from edge_digits.training.detector import parse_focus

        parse_focus(cfg.focus)
    if cfg.init is not None and not Path(cfg.init).is_file():
        raise EdgeDigitsError(f"{cfg.init}: no such model file (--init takes a detector's model.keras)")
    prepare_out(cfg.out, cfg.force)
    if cfg.arch == Arch.detector:
        from edge_digits.training import detector

        return [detector.train(cfg)]
    d = load_dataset(cfg.dataset, cfg.data, cfg.seed)
    opts = cfg.optimizers or [None]
    if len(opts) == 1:
        return [train_one(cfg, d, opts[0], cfg.out)]
    tmp_root = Path(tempfile.mkdtemp(dir=cfg.out.parent, prefix=f".{cfg.out.name}.tmp-"))
    try:
        results = [train_one(cfg, d, o, tmp_root / o.value) for o in opts]
        rows = [{"optimizer": r.metrics["optimizer"], "accuracy": r.metrics["accuracy"], "loss": r.metrics["loss"],
                 "epochs_run": r.metrics["epochs_run"], "train_seconds": r.metrics["train_seconds"],
                 "history": r.metrics["history"]} for r in results]
        files.write_json(tmp_root / "comparison.json", [{k: v for k, v in r.items() if k != "history"}
                                                                  for r in rows])
        lines = ["| optimizer | test accuracy | test loss | epochs | seconds |", "|---|---|---|---|---|"]
        lines += [f"| {r['optimizer']} | {r['accuracy']:.4f} | {r['loss']:.4f} | {r['epochs_run']} | "
                  f"{r['train_seconds']:.0f} |" for r in rows]
        (tmp_root / "comparison.md").write_text("\n".join(lines) + "\n")
        reports.plot_comparison(rows, tmp_root / "comparison.png")
        _publish_run(tmp_root, cfg.out, cfg.force)
    except BaseException:
        shutil.rmtree(tmp_root, ignore_errors=True)
        raise
    return [RunResult(cfg.out / r.out.name, r.metrics) for r in results]
