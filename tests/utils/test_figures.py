"""Figures laid out by arithmetic keep room for their axes whatever the label lengths."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from assayml.evaluate.plots import _confusion_png


@pytest.mark.parametrize("length", [1, 30, 60, 200])
def test_a_confusion_matrix_with_long_class_names_is_drawn(length: int) -> None:
    png = _confusion_png(np.array([[3, 1], [0, 4]]), ["a" * length, "b"])
    assert Image.open(io.BytesIO(png)).size == (450, 450)
