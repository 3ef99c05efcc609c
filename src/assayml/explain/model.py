"""The model as explainers see it.

* :class:`ExplainedNet`: an ``nn.Module`` from transformed features [rows, features] to one
  output per class (logits; for an ensemble, the members' mean logits) or, for regression,
  the predicted mean in the target's units. Gradient methods (Captum) run through it.
* :func:`raw_estimator`: a scikit-learn estimator over raw rows (a DataFrame) that goes
  through the saved feature transform, for scikit-learn's permutation importance, partial
  dependence and the surrogate tree.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from assayml.features.transform import FeatureTransform
from assayml.models.inference import Sampling, predict


class ExplainedNet(torch.nn.Module):
    def __init__(self, net: torch.nn.Module, transform: FeatureTransform, sampling: Sampling):
        super().__init__()
        # In float64: Integrated Gradients' completeness (sum of attributions = output
        # difference) then holds to ~1e-6 rather than float32's ~1e-3.
        self.net = copy.deepcopy(net).double().eval()
        self.ensemble = sampling.members > 0
        self.regression = transform.target.task == "regression"
        self.scale, self.shift = transform.target.std, transform.target.mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[rows, features] -> [rows, classes] logits, or [rows, 1] target-unit means."""
        out = self.net(x.double())
        if self.ensemble:
            out = out.mean(dim=0)
        if self.regression:
            return out[..., :1] * self.scale + self.shift
        return out


class _RawModel(BaseEstimator):
    """Shared by the classifier and regressor forms; ``fit`` does nothing (already trained)."""

    def __init__(self, net=None, transform=None, sampling=None, columns=None):
        self.net, self.transform, self.sampling, self.columns = net, transform, sampling, columns

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any, y: Any = None):
        return self

    def _predictions(self, X: Any):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.columns)
        return predict(
            self.net, self.transform, self.transform.transform(frame), sampling=self.sampling
        )


class RawClassifier(ClassifierMixin, _RawModel):
    @property
    def classes_(self) -> np.ndarray:
        return np.array(self.transform.target.classes)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self._predictions(X).predicted]

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._predictions(X).probabilities


class RawRegressor(RegressorMixin, _RawModel):
    def predict(self, X: Any) -> np.ndarray:
        return self._predictions(X).predicted


def raw_estimator(net, transform: FeatureTransform, sampling: Sampling, columns: list[str]):
    """The model over raw rows as a fitted scikit-learn classifier or regressor."""
    kind = RawRegressor if transform.target.task == "regression" else RawClassifier
    return kind(net=net, transform=transform, sampling=sampling, columns=columns)
