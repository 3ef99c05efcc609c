"""Uncertainty: MC dropout sampling, predictive summaries, temperature scaling, calibration
and selective-prediction metrics, and their plots."""
