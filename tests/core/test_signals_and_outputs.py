"""SIGTERM as Ctrl-C, deferred interrupts, and output paths checked before the work (issue 16)."""
import os
import signal

import pytest

from edge_digits.config import EdgeDigitsError, check_number, check_threads
from edge_digits.core import signals


def test_sigterm_is_ctrl_c_inside_and_restored_after():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with signals.sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10_000_000):  # the handler runs between bytecodes
                pass
    assert signal.getsignal(signal.SIGTERM) is before


def test_interrupts_deferred_holds_them_until_the_block_ends():
    before = signal.getsignal(signal.SIGINT)
    done = False
    with signals.interrupts_deferred() as got:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1_000_000):
            pass
        done = True
    assert done and got == [signal.SIGINT] and signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("v", [float("nan"), float("inf"), float("-inf")])
def test_check_number_refuses_non_finite(v):
    with pytest.raises(EdgeDigitsError, match="finite"):
        check_number("--lr", v, 0)


def test_check_threads_bounds():
    assert check_threads(None) is None and check_threads(256) == 256
    for bad in (0, -1, 257, 2 ** 32 + 1):
        with pytest.raises(EdgeDigitsError, match="--threads"):
            check_threads(bad)
