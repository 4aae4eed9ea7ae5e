"""Photo-like pages of real handwritten digits (MNIST, USPS) under photo conditions, with ground truth per
digit and per number: the training and development data of the learned detector, and the benchmark pages.
Training and evaluation only: nothing on the edge path imports it.

    bank = banks("mnist.npz", "usps.npz", "dev")       # the digit pools of one split (SPLITS)
    pages = make_pages(bank, 300, SPLITS["dev"]["seed"])   # page i from default_rng(seed + i)
    page.image, page.boxes, page.labels, page.numbers, page.ignore, page.conditions
"""
from edge_digits.data.pages.core import (CONDITIONS, EDGE, SPLITS, DigitBank, Number, Page, banks,  # noqa: F401
                                         make_page, make_pages)
