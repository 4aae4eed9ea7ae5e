"""`make demo`: the shipped int8 model reading the bundled video (tests/data/demo.mp4, made by
scripts/make_demo_video.py). With a display, the camera window (q quits); without one, a JSON summary.

    python scripts/demo.py [VIDEO]
"""
import argparse
import io
import json
import sys
from collections import Counter
from pathlib import Path

from edge_digits.vision.detector import load_detector
from edge_digits.app import camera, sources
from edge_digits import runtime as runtimes
from edge_digits.config import EdgeDigitsError, camera_model

VIDEO = Path(__file__).resolve().parent.parent / "tests" / "data" / "demo.mp4"


def main(video: Path) -> int:
    try:
        runner = runtimes.load(default=camera_model())
        finder = load_detector(threads=1)  # as `edge-digits camera` runs by default
        source = sources.Source(str(video))
        if camera.window_available():
            camera.run(source, runner, detector=finder)
            return 0
        frames = io.StringIO()
        summary = camera.run(source, runner, headless=True, json_out=True, out=frames, detector=finder)
    except EdgeDigitsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    recs = [json.loads(line) for line in frames.getvalue().splitlines()]
    seen = Counter(" ".join(sorted(r["readings"])) for r in recs)
    print(json.dumps({
        "video": str(video), "model": runner.describe(), "frames": summary.frames, "skipped": summary.skipped,
        "readings_most_seen": seen.most_common(1)[0][0].split() if seen else [],
        "processing_fps": round(1e3 / max(summary.process_ms.mean(), 1e-9), 1),
        "last_frame": recs[-1] if recs else None}, indent=2))
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video", nargs="?", type=Path, default=VIDEO, help="video file, folder, glob or camera index")
    sys.exit(main(ap.parse_args().video))
