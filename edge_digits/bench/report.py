"""Show and save a bench document: Rich table and progress, CSV, plot, and the BENCHMARKS.md page.

Everything here reads the document `bench.run` returns (or a saved --json-file), so a page can be rebuilt
from saved results without measuring again. Files are written to a temporary name and renamed.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from pathlib import Path

from edge_digits.bench.matrix import BASELINE_RUNTIME, ROW_FIELDS
from edge_digits.bench.compact import gpu_footer, gpu_unavailable, runtime_cell
from edge_digits.config import EdgeDigitsError
from edge_digits.core import files


def _f(v, fmt="{:,.1f}", none="") -> str:
    return none if v is None else fmt.format(v)


def _us(v) -> str:
    if v is None:
        return ""
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _acc(r) -> str:
    if r.get("accuracy") is None:
        return (r.get("note") or "") if str(r.get("note", "")).startswith("n/a") else ""
    es = r.get("eval_set") or ""
    return f"{r['accuracy'] * 100:.2f}%" + ("" if es == "full" else f" {es}")  # "full": the whole MNIST test set


COLUMNS = [  # header, how to show a row
    ("format", lambda r: f"{r['format']}/{r['precision']}"),
    ("runtime", lambda r: r["runtime"]),
    ("provider", lambda r: r.get("provider") or ""),
    ("thr", lambda r: _f(r.get("threads"), "{}")),
    ("batch", lambda r: _f(r.get("batch"), "{}")),
    ("size KB", lambda r: _f(r["size_bytes"] and r["size_bytes"] / 1024)),
    ("KB", lambda r: _f(r["size_bytes"] and r["size_bytes"] / 1024, "{:,.0f}")),
    ("load ms", lambda r: _f(r.get("load_ms"))),
    ("1st ms", lambda r: _f(r.get("first_ms"), "{:,.2f}")),
    ("p50 us", lambda r: _us(r.get("p50_us"))),
    ("p90 us", lambda r: _us(r.get("p90_us"))),
    ("p99 us", lambda r: _us(r.get("p99_us"))),
    ("p99.9 us", lambda r: _us(r.get("p999_us"))),
    ("mean±std us", lambda r: "" if r.get("mean_us") is None else f"{_us(r['mean_us'])}±{_us(r['std_us'])}"),
    ("us/digit", lambda r: _us(r.get("per_digit_us"))),
    ("digits/s", lambda r: _f(r.get("digits_per_s"), "{:,.0f}")),
    ("% peak", lambda r: "n/a" if r.get("precision") == "int8" and r.get("status") == "ok"
     else _f(r.get("pct_peak"))),  # no int8 peak is measured: see matrix.finish_row
    ("RSS MB", lambda r: _f(r.get("peak_rss_mb"), "{:,.0f}")),
    ("accuracy", _acc),
    ("status", lambda r: r["status"] + (f" ({r['note']})" if _tell(r) else "")),
]


def _tell(r) -> bool:
    # A note worth a reader's eye: not the accuracy's n/a (own column), not "using CPU" on a CPU row.
    note = str(r.get("note") or "")
    return bool(note) and r["status"] == "ok" and not note.startswith("n/a") and note != f"using {r.get('provider')}"


# The terminal gets the columns a reader compares, in 100 columns; --wide adds the rest of TERMINAL_WIDE.
# CSV, JSON and the Markdown page keep them all.
TERMINAL = ["format", "runtime", "thr", "batch", "p50 us", "us/digit", "digits/s", "KB", "accuracy", "status"]
TERMINAL_WIDE = ["format", "runtime", "provider", "thr", "batch", "size KB", "load ms", "1st ms", "p50 us", "p99 us",
                 "us/digit", "digits/s", "% peak", "RSS MB", "accuracy", "status"]
def table_cells(doc: dict, names: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    cols = [c for c in COLUMNS if names is None or c[0] in names]
    return [c[0] for c in cols], [[fn(r) for _, fn in cols] for r in doc["rows"]]


def summary_lines(doc: dict) -> list[str]:
    s, env = doc["summary"], doc["environment"]
    peaks = env.get("matmul_peak_gflops") or {}
    lines = [f"{env.get('cpu')}, {env.get('cores')} cores; float32 matmul peak "
             + ", ".join(f"{t} thread{'s' * (t != '1')}: {_f(g)} GFLOP/s" for t, g in peaks.items())
             + f"; load average {_load(env)}"]
    if s.get("speedup_vs_keras_predict"):
        what = ("a trained mlp" if s.get("baseline_trained", True)
                else "an untrained MLP of the same shape: timing only")
        lines.append(f"speed-up per digit over Keras model.predict on {what} ({_us(s['baseline_per_digit_us'])} us/image): "
                     f"{s['speedup_vs_keras_predict']:,.0f}x ({s['speedup_row']}); best row "
                     f"{s['speedup_best_vs_keras_predict']:,.0f}x ({s['best_row']})")
    for g in s.get("goals", []):
        mark = {True: "met", False: "NOT met", None: "not measured"}[g["met"]]
        lines.append(f"goal: {g['goal']} {g['better']} {g['target']}: {_f(g['value'], '{:,.1f}', 'n/a')} -> {mark}")
    c = s.get("counts", {})
    lines.append(f"rows: {c.get('ok', 0)} ok, {c.get('skipped', 0)} skipped, {c.get('failed', 0)} failed")
    return lines


def _load(env) -> str:
    a, b = env.get("loadavg_start"), env.get("loadavg_end")
    return f"{a[0]:.1f} at start, {b[0]:.1f} at end" if a and b else "n/a"


def print_table(doc: dict, stderr: bool = False, wide: bool = False) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    shown = {**doc, "rows": [r for r in doc["rows"] if not gpu_unavailable(r)]}
    header, cells = table_cells(shown, TERMINAL_WIDE if wide else TERMINAL)
    notes: list[str] = []
    if not wide:  # 100 columns: the provider goes with the runtime, the eval set and reasons below the table
        i, a, st = header.index("runtime"), header.index("accuracy"), header.index("status")
        for r, row in zip(shown["rows"], cells):
            row[i] = runtime_cell(r)
            row[a] = f"{r['accuracy'] * 100:.2f}%" if r.get("accuracy") is not None else ("n/a" if row[a] else "")
            if r["status"] != "ok" or _tell(r):
                reason = r["status"] if r["status"] != "ok" else r["note"]
                if reason not in notes:
                    notes.append(reason)
                row[st] = f"{r['status'].split(':')[0]} [{notes.index(reason) + 1}]"
        sets = sorted({str(r.get("eval_set")) for r in shown["rows"] if r.get("accuracy") is not None})
        notes = [f"[{k}] {n}" for k, n in enumerate(notes, 1)]
        if sets:
            notes.insert(0, f"accuracy on the {', '.join(sets)} MNIST test set")
    t = Table(title="edge-digits bench", show_lines=False, box=box.SIMPLE_HEAD if not wide else box.HEAVY_HEAD,
              pad_edge=wide, collapse_padding=not wide)
    for h in header:
        left = h in ("format", "runtime", "provider", "status", "accuracy")
        if wide:
            t.add_column(h, justify="left" if left else "right", overflow="fold",
                         no_wrap=h not in ("status", "accuracy"), min_width=32 if h == "status" else None)
        else:  # short cells (reasons are notes below): nothing folds in 100 columns; narrower, text wraps
            t.add_column(h, justify="left" if left else "right", no_wrap=not left, min_width=len(h), overflow="fold")
    for r, row in zip(shown["rows"], cells):
        st = r["status"]
        style = None if st == "ok" else "dim" if st.startswith("skipped") else "red"
        t.add_row(*(Text(c) for c in row), style=style)  # Text: "[gpu]" in a reason is not markup
    con = Console(stderr=stderr)
    if not con.is_terminal and not os.environ.get("COLUMNS"):
        # a pipe or file: Rich's default 80 columns would fold every cell; $COLUMNS, when set, wins
        con = Console(stderr=stderr, width=180 if wide else 100)
    if shown["rows"]:
        con.print(t)
    if doc.get("pipeline"):
        pt = Table(title="camera pipeline, per frame (ms)")
        for h in PIPE_FIELDS:
            pt.add_column(h, justify="left" if h == "stage" else "right")
        for st in doc["pipeline"]["stages"]:
            pt.add_row(st["stage"], *(f"{st[k]:.3f}" for k in PIPE_FIELDS[1:]))
        con.print(pt)
    footer = gpu_footer(doc)
    for line in notes + pipeline_lines(doc) + (summary_lines(doc) if doc["rows"] else []) + ([footer] if footer else []):
        con.print(Text(line))


@contextlib.contextmanager
def progress():
    """A Rich progress bar on stderr; yields the callback bench.run wants."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(TextColumn("bench"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                 TextColumn("{task.description}"), transient=True, console=_stderr_console())
    task = p.add_task("starting", total=None)

    def update(done, total, label):
        if not p.live.is_started:  # started on the first report, so an early `error:` line stays clean
            p.start()
        p.update(task, completed=done, total=total, description=label)

    try:
        yield update
    finally:
        if p.live.is_started:
            p.stop()


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def to_json(doc: dict) -> str:
    return json.dumps(doc, indent=2) + "\n"


def write_json(doc: dict, path: Path) -> None:
    files.write_text(path, to_json(doc))


PIPE_FIELDS = ["stage", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "first_ms"]


def pipeline_lines(doc: dict) -> list[str]:
    p = doc.get("pipeline")
    if not p:
        return []
    return [f"camera pipeline on {p['video']}: {p['frames']} frames ({p.get('frame_hw')}), "
            f"{p['digits_per_frame']:.1f} digits read per frame ({p.get('classified_per_frame', 0):.1f} blobs classified), "
            f"{p['runtime']} {Path(p['model']).name} on {p['threads']} "
            f"threads: {p['fps']:.1f} fps end to end (first frame excluded), peak RSS {p['peak_rss_mb']:.0f} MB"]


def to_csv(doc: dict) -> str:
    if not doc["rows"] and doc.get("pipeline"):  # --pipeline-only: the stages are the rows
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=PIPE_FIELDS, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(doc["pipeline"]["stages"])
        return buf.getvalue()
    extra = sorted({k for r in doc["rows"] for k in r} - set(ROW_FIELDS))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=ROW_FIELDS + extra, lineterminator="\n")
    w.writeheader()
    for r in doc["rows"]:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in ROW_FIELDS + extra})
    return buf.getvalue()


def write_csv(doc: dict, path: Path) -> None:
    files.write_text(path, to_csv(doc))


def write_plot(doc: dict, path: Path) -> None:
    """Latency per digit and throughput against batch size, one line per format/runtime/provider/threads."""
    from edge_digits.core.provenance import pyplot as _plt

    plt = _plt()
    if not doc["rows"] and doc.get("pipeline"):
        return _pipeline_plot(doc, path, plt)
    series: dict[tuple, list] = {}
    for r in doc["rows"]:
        if r["status"] == "ok" and r["runtime"] != BASELINE_RUNTIME:
            key = (f"{r['format']}/{r['precision']} {r['runtime']}" + ("" if r["provider"] == "CPU" else f" {r['provider']}"),
                   r["threads"])
            series.setdefault(key, []).append(r)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    names = sorted({k[0] for k in series})
    colors = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}
    threads = sorted({k[1] for k in series})
    styles = {t: ls for t, ls in zip(threads, ["-", "--", ":", "-."] * 4)}
    for (name, t), rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r["batch"])
        b = [r["batch"] for r in rs]
        kw = dict(color=colors[name], ls=styles[t], marker="o", ms=4, label=f"{name}, {t} thr")
        axes[0].plot(b, [r["per_digit_us"] for r in rs], **kw)
        axes[1].plot(b, [r["digits_per_s"] for r in rs], **kw)
    base = next((r for r in doc["rows"] if r["runtime"] == BASELINE_RUNTIME and r["status"] == "ok"), None)
    if base:
        axes[0].axhline(base["per_digit_us"], color="crimson", lw=1)
        axes[0].annotate(f"Keras model.predict, 1 image: {base['per_digit_us'] / 1000:,.1f} ms",
                         (1, base["per_digit_us"]), xytext=(2, -12), textcoords="offset points", fontsize=8,
                         color="crimson")
    for ax, title in zip(axes, ("p50 latency per digit (us, log)", "throughput (digits/s, log)")):
        ax.set_xscale("log", base=2)
        batches = sorted({r["batch"] for rs in series.values() for r in rs})
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=7, loc="best")
    env = doc["environment"]
    fig.suptitle(f"edge-digits bench: {env.get('cpu')}, {env.get('cores')} cores, {env.get('date_utc')}", fontsize=9)
    fig.tight_layout()
    with files.atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _pipeline_plot(doc: dict, path: Path, plt) -> None:
    st = [r for r in doc["pipeline"]["stages"] if r["stage"] != "total"]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh([r["stage"] for r in st][::-1], [r["p50_ms"] for r in st][::-1], color="tab:blue")
    ax.set_xlabel("p50 ms per frame")
    pl = doc["pipeline"]
    ax.set_title(f"camera pipeline on {Path(pl['video']).name}: {pl['frames']} frames, {pl['fps']:.0f} fps end to end",
                 fontsize=9)
    fig.tight_layout()
    with files.atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def markdown(doc: dict, plot: str | None = None, reproduce: str | None = None) -> str:
    """The BENCHMARKS.md page: goals, environment, plot, the full table, method and how to reproduce."""
    env, s = doc["environment"], doc["summary"]
    out = ["# Benchmarks", "",
           f"One run of `edge-digits bench` on this machine, {env.get('date_utc')}. Every figure below is read "
           "from that run's JSON; the commands at the end reproduce it.", ""]
    if doc.get("note"):
        out += [f"> {doc['note']}", ""]
    load = max((env.get("loadavg_start") or [0])[0], (env.get("loadavg_end") or [0])[0])
    if load >= 0.5:  # 1-minute load average: other processes wanted CPU while this ran
        out += [f"> The machine was shared during this run (load average up to {load:.1f} on {env.get('cores')} "
                "cores from other work): the figures are pessimistic, the all-core rows most of all.", ""]
    if s.get("goals"):  # the project's goals: only when its shipped models were benched
        out += ["## Goals", "", "| goal | target | measured | met | row |", "|---|---|---|---|---|"]
        for g in s["goals"]:
            met = {True: "yes", False: "**no**", None: "not measured"}[g["met"]]
            out.append(f"| {g['goal']} | {g['better']} {g['target']:,} | {_f(g['value'], '{:,.1f}', 'n/a')} | {met} "
                       f"| {g['row'] or ''} |")
        out.append("")
    if s.get("speedup_vs_keras_predict"):
        what = ("classic `mlp`, the tutorial way" if s.get("baseline_trained", True)
                else "an untrained MLP of the same shape as the classic `mlp`: timing only")
        out += [f"Keras `model.predict`, one image at a time ({what}): "
                f"{s['baseline_per_digit_us'] / 1000:,.1f} ms per image (p50). The shipped int8 model through "
                f"LiteRT on one thread is **{s['speedup_vs_keras_predict']:,.0f}x** faster per digit; the fastest "
                f"row ({s['best_row']}) is {s['speedup_best_vs_keras_predict']:,.0f}x faster.", ""]
    peaks = env.get("matmul_peak_gflops") or {}
    v = env.get("versions") or {}
    out += ["## Machine", "",
            f"- CPU: {env.get('cpu')}, {env.get('cores')} cores ({env.get('cores_usable')} usable); {env.get('os')}",
            "- float32 matrix-multiply peak (numpy/OpenBLAS 1024x1024, best run of a measurement at the start "
            "and one at the end): "
            + ", ".join(f"{_f(g)} GFLOP/s on {t} thread{'s' * (t != '1')}" for t, g in peaks.items()),
            f"- load average: {_load(env)} (a load near or above the core count means the machine was "
            "shared while measuring and the figures are pessimistic)",
            "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
            f"- ONNX Runtime providers: {', '.join(env.get('onnxruntime_providers') or [])}; "
            f"GPU present: {'yes' if env.get('gpu_present') else 'no'}",
            f"- accuracy set: {(env.get('eval_set') or {}).get('kind')} MNIST test set, "
            f"{(env.get('eval_set') or {}).get('n')} digits",
            f"- git commit: {env.get('git_commit') or 'n/a (uncommitted tree)'}", ""]
    if plot:
        out += [f"![latency per digit and throughput by format, runtime and batch]({plot})", ""]
    if doc.get("pipeline"):
        out += ["## Camera pipeline", "", pipeline_lines(doc)[0] + ".", "",
                "| " + " | ".join(PIPE_FIELDS) + " |", "|" + "---|" * len(PIPE_FIELDS)]
        out += ["| " + " | ".join([st["stage"]] + [f"{st[k]:.3f}" for k in PIPE_FIELDS[1:]]) + " |"
                for st in doc["pipeline"]["stages"]]
        out.append("")
    header, cells = table_cells(doc)
    out += ["## All rows", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    m = doc.get("method", {})
    out += ["", "## Method", ""] + [f"- {k.replace('_', ' ')}: {val}" for k, val in m.items()]
    out += ["- inputs: MNIST test digits, uint8 28x28, prepared before timing; each runtime's own input "
            "scaling/quantization is part of the timed call, as in serving",
            "- first inference: the first predict() after load at the row's batch size (includes any tensor "
            "re-allocation); load: constructing the runtime's runner (read the file, build the interpreter or "
            "session, allocate tensors); the sha256 against the manifest is checked before, untimed",
            "- threads: set explicitly per runtime (LiteRT num_threads, ONNX Runtime intra_op_num_threads, "
            "cv2.setNumThreads, TensorFlow intra-op threads) and for BLAS/OpenMP through the environment",
            "- baseline: the classic 669,706-parameter MLP through Keras model.predict, batch 1; its accuracy "
            "is n/a when no trained runs/mlp/model.keras exists (timing only)", ""]
    if reproduce:
        out += ["## Reproduce", "", "```sh", reproduce.strip(), "```", ""]
    return "\n".join(out)


def write_markdown(doc: dict, path: Path, plot: Path | None = None, reproduce: str | None = None) -> None:
    rel = os.path.relpath(Path(plot).resolve(), Path(path).resolve().parent) if plot else None
    env = doc["environment"]
    if reproduce is None and env.get("command"):
        data = f"EDGE_DIGITS_DATA={env['edge_digits_data']} " if env.get("edge_digits_data") else ""
        reproduce = (f"make bench\n# which runs:\n{data}{env['command']}\n"
                     "# re-render tables, plot and this page from saved results, without measuring:\n"
                     "edge-digits bench --from-json RESULTS.json --markdown BENCHMARKS.md --plot PLOT.png")
    files.write_text(path, markdown(doc, rel, reproduce))


def emit(doc: dict, json_stdout: bool = False, json_file: Path | None = None, csv_file: Path | None = None,
         plot: Path | None = None, md: Path | None = None, wide: bool = False) -> None:
    """Every output the CLI asked for: files first, then the table (stderr when stdout carries JSON). A file
    that cannot be written at the end loses nothing: the results document is saved elsewhere and the one-line
    error says where."""
    failed = []
    for path, write in ((json_file, lambda: write_json(doc, json_file)), (csv_file, lambda: write_csv(doc, csv_file)),
                        (plot, lambda: write_plot(doc, plot)), (md, lambda: write_markdown(doc, md, plot))):
        if path:
            try:
                write()
            except (OSError, EdgeDigitsError) as e:
                failed.append(f"{path} ({getattr(e, 'strerror', None) or e})")
    print_table(doc, stderr=json_stdout, wide=wide)
    if json_stdout:
        import sys

        sys.stdout.write(to_json(doc))
        sys.stdout.flush()
    if failed:
        fd, keep = tempfile.mkstemp(prefix="edge-digits-bench-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            f.write(to_json(doc))
        raise EdgeDigitsError(f"cannot write {'; '.join(failed)}; the results are kept in {keep} "
                              f"(re-render with --from-json {keep})")
