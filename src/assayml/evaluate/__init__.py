"""Test-set metrics (torchmetrics) and plots that DVC can render."""
