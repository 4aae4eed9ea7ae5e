"""The CLI shell: fast --help/--version without heavy imports, and every command documented."""
import subprocess
import sys

from typer.testing import CliRunner

from edge_digits import __version__
from edge_digits.cli import app

COMMANDS = ["train", "evaluate", "export", "camera", "predict", "bench"]


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"edge-digits {__version__}"


def test_every_command_has_help():
    for cmd in COMMANDS:
        r = CliRunner().invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, cmd


def test_help_imports_no_heavy_runtime():
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from edge_digits.cli import app\n"
            "for args in (['--help'], ['--version'], ['bench', '--help'], ['camera', '--help']):\n"
            "    assert CliRunner().invoke(app, args).exit_code == 0\n"
            "heavy = {m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'onnxruntime', 'cv2',"
            " 'ai_edge_litert', 'matplotlib'}\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_console_script_runs():
    exe = __import__("pathlib").Path(sys.executable).parent / "edge-digits"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "export" in out.stdout
