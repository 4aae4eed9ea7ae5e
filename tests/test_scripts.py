"""The measuring scripts run end to end on a few pages (full MNIST and USPS: $EDGE_DIGITS_DATA and
$EDGE_DIGITS_USPS, which CI has): what camera.md's notes quote must stay re-runnable."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MNIST, USPS = os.environ.get("EDGE_DIGITS_DATA", ""), os.environ.get("EDGE_DIGITS_USPS", "")
pytestmark = pytest.mark.skipif(not (Path(MNIST).is_file() and Path(USPS).is_file()),
                                reason="needs the full MNIST and USPS: set EDGE_DIGITS_DATA and EDGE_DIGITS_USPS")


def _run(script, *args):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--mnist", MNIST, "--usps", USPS, *args],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_dev_eval_scores_pages_and_takes_the_thresholds():
    out = _run("dev_eval.py", "--pages", "4", "--size", "1280x720")
    m = re.search(r"4 pages, (\d+) digits: recall ([\d.]+)% precision ([\d.]+)% read right ([\d.]+)%.*; (\d+) detector runs", out)
    assert m and int(m[1]) > 0 and 0 < float(m[2]) <= 100, out
    one = _run("dev_eval.py", "--pages", "4", "--size", "1280x720", "--no-auto")
    assert re.search(r"; 4 detector runs", one), one  # the one pass: a run a page; the default runs tiles too
    assert int(m[5]) > 4


def test_dev_eval_reads_the_true_boxes_with_the_classifier_alone():
    out = _run("dev_eval.py", "--pages", "6", "--size", "640x480", "--no-auto", "--true-boxes", "--by-condition", "pen",
               "--split", "train")  # pages of the training digits: the overfitting check
    digits = int(re.search(r"6 pages, (\d+) digits", out)[1])
    rows = re.findall(r"classifier on the true boxes, (\S+): (\d+) digits, read right ([\d.]+)%", out)
    every = dict((k, int(n)) for k, n, _ in rows)
    assert every["all"] == digits > 0, out  # every true digit read once
    assert sum(n for k, n in every.items() if k.startswith("pen=")) == digits
    assert all(0 <= float(v) <= 100 for _, _, v in rows) and float(rows[0][2]) > 50  # the classifier reads most


def test_dev_eval_reads_with_another_classifier_and_rejects_a_missing_one(tmp_path):
    out = _run("dev_eval.py", "--pages", "2", "--size", "640x480", "--no-auto",
               "--classifier", str(ROOT / "export" / "edge_int8.tflite"),
               "--refiner", str(ROOT / "export" / "refine" / "box-refine_int8.tflite"))
    assert re.search(r"2 pages, \d+ digits: recall [\d.]+%", out), out
    for opt in ("--classifier", "--refiner"):
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "dev_eval.py"), "--mnist", MNIST, "--usps", USPS,
                            "--pages", "1", opt, str(tmp_path / "none.tflite")], capture_output=True, text=True)
        assert r.returncode == 1 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for bad in ("nan", "-0.1", "7"):
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "dev_eval.py"), "--mnist", MNIST, "--usps", USPS,
                            "--pages", "1", "--view-grow", bad], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and r.stderr.startswith("error: --view-grow") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for bad in ("nan", "-0.1", "7"):
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "dev_eval.py"), "--mnist", MNIST, "--usps", USPS,
                            "--pages", "1", "--accept-t", bad], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and r.stderr.startswith("error: --accept-t") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "dev_eval.py"), "--mnist", MNIST, "--usps", USPS,
                        "--pages", "1", "--accept", str(ROOT / "README.md")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "not an accept model" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_dev_eval_says_why_numbers_were_not_read_whole_and_takes_the_link_model_options():
    out = _run("dev_eval.py", "--pages", "6", "--size", "640x480", "--why-numbers", "--links-t", "0.5")
    m = re.search(r"numbers: whole (\d+) .*digit missing (\d+) .*digit misread (\d+) .*split (\d+) .*joined (\d+)", out)
    assert m and sum(int(v) for v in m.groups()) > 0, out
    never = _run("dev_eval.py", "--pages", "6", "--size", "640x480", "--why-numbers", "--links-t", "1")
    assert re.search(r"joined 0 ", never), never  # a link model that never links joins no number with another
    for bad in ("nan", "-0.1", "7"):
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "dev_eval.py"), "--mnist", MNIST, "--usps", USPS,
                            "--pages", "1", "--links-t", bad], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and r.stderr.startswith("error: --links-t") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "dev_eval.py"), "--mnist", MNIST, "--usps", USPS,
                        "--pages", "1", "--links", str(ROOT / "README.md")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "not an affinity model" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bench_ab_times_both_variants():
    out = _run("bench_ab.py", "--pair", "accept", "--frames", "4", "--rounds", "1")
    lines = [ln for ln in out.splitlines() if "frames/s" in ln]
    assert len(lines) == 2 and lines[0].startswith("without accept model") and lines[1].startswith("with accept model"), out


def test_bench_ab_times_the_int8_detector_against_the_fp16_default():
    out = _run("bench_ab.py", "--pair", "detector", "--frames", "4", "--rounds", "1")
    lines = [ln for ln in out.splitlines() if "frames/s" in ln]
    assert len(lines) == 2 and lines[0].startswith("int8 detector") and lines[1].startswith("fp16 detector"), out
    net = re.findall(r"^(int8|fp16) detector, net alone: median ([\d.]+) ms", out, re.M)
    assert [n for n, _ in net] == ["int8", "fp16"] and all(float(ms) > 0 for _, ms in net), out
    for flag, bad in (("--frames", "-1"), ("--frames", "100000000"), ("--rounds", "0")):
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_ab.py"), "--mnist", MNIST, "--usps", USPS,
                            "--pair", "detector", flag, bad], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and r.stderr.startswith(f"error: {flag}") and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bench_ab_times_another_detector_file_against_the_shipped_one():
    other = ROOT / "export" / "detector" / "detector_int8.tflite"
    out = _run("bench_ab.py", "--pair", "size", "--other", str(other), "--frames", "4", "--rounds", "1")
    lines = [ln for ln in out.splitlines() if "frames/s" in ln]
    assert len(lines) == 2 and lines[0].startswith("detector_int8.tflite (320x240)") and lines[1].startswith("shipped"), out
    assert len(re.findall(r"net alone: median [\d.]+ ms, p99 [\d.]+ ms a \d+x\d+ frame", out)) == 2, out
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_ab.py"), "--mnist", MNIST, "--usps", USPS,
                        "--pair", "size"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("error: --pair size needs --other") and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bench_camera_reports_the_readers_and_the_model_goals(tmp_path):
    _run("bench_camera.py", "--pages", "3", "--splits", "bench", "--readers", "learned", "--no-speed",
         "--workers", "1", "--out", str(tmp_path / "camera"))
    md = (tmp_path / "camera.md").read_text()
    assert re.search(r"## bench pages: 3 pages", md), md[:500]
    assert "By digit, the true label (recall / read right):" in md and re.search(r"\n\| [0-9] \| \d+ \| ", md), md[:3000]
    tb = re.search(r"read right with perfect boxes\): ([\d.]+)%", md)  # the classifier alone on the true boxes
    assert tb and 50 < float(tb[1]) <= 100, md[:3000]
    assert re.search(r"\| pen \| \w+ \| \d+ \| \d+ \| [\d./-]+ \| [\d.]+ \|", md), md[:3000]
    # every digit in one legibility class, each class with the true-box read right beside the reader's
    leg = re.findall(r"\n\| (clear|fair|poor) \| (\d+) \| [\d.-]+ / [\d.-]+ \| ([\d.-]+) \|", md)
    digits = int(re.search(r"## bench pages: 3 pages, (\d+) digits", md)[1])
    assert leg and sum(int(n) for _, n, _ in leg) == digits, md[:4000]
    m = re.search(r"\| classifier: USPS test \(int8\) \| >= 98.5% \| ([\d.]+)% \| (yes|no) \|", md)
    assert m and 90 < float(m[1]) <= 100 and (m[2] == "yes") == (float(m[1]) >= 98.5), md[-1500:]
    size = (ROOT / "export" / "detector" / "detector_int8.tflite").stat().st_size
    assert f"| detector int8 file | <= 300 KB | {size / 1000:.1f} KB | {'yes' if size <= 300_000 else 'no'} |" in md


@pytest.mark.slow
def test_mixed_precision_writes_the_float_part_variants_that_dev_eval_reads(tmp_path):
    out = _run("mixed_precision.py", "--calib", "5", "--out", str(tmp_path))
    assert re.search(r"^\d\.\d{3} steps ", out, re.M), out[:500]
    assert (tmp_path / "layer_stats.csv").read_text().startswith("op_name")
    for part in ("head", "paper"):
        f = tmp_path / f"detector_{part}.tflite"
        assert f.stat().st_size > 100_000 and f.read_bytes()[4:8] == b"TFL3"
    got = _run("dev_eval.py", "--pages", "2", "--size", "640x480", "--detector", str(tmp_path / "detector_head.tflite"))
    assert re.search(r"2 pages, \d+ digits: recall [\d.]+%", got), got
