"""``assay explain``'s bias part: ``bias.json`` for the model as it predicts, and, for a
mitigated model, the figures before and after the mitigation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from assayml.explain.bias_report import bias_report, favourable_label
from assayml.mitigation.report import mitigation_report
from assayml.mitigation.state import read_state
from assayml.models.inference import predict
from assayml.utils import groups as typed


def bias_section(ctx, pred) -> dict[str, Any]:
    classes = ctx.transform.target.classes
    favourable = favourable_label(classes, ctx.cfg.explain.bias)
    predicted = np.asarray(classes, dtype=object)[pred.predicted]

    def predict_favourable(rows: pd.DataFrame) -> np.ndarray:
        labels = ctx.estimator.predict(rows[ctx.transform.input_columns])
        return typed.matches(pd.Series(list(labels), dtype=object), favourable).astype(int)

    score = pred.probabilities[:, typed.index_of(classes, favourable)]

    def report(labels, flip_test) -> dict[str, Any]:
        return bias_report(
            ctx.train,
            ctx.split,
            labels,
            ctx.transform.target.name,
            ctx.profile["sensitive"],
            ctx.profile.get("reference_groups") or {},
            favourable,
            flip_test,
            ctx.cfg.explain.bias,
            score,
        )

    bias = report(predicted, predict_favourable)
    record = read_state(ctx.cfg.paths.models_dir)
    if record is not None:  # before/after the mitigation (assayml.mitigation.report)
        y = ctx.transform.encode_target(ctx.split[ctx.transform.target.name])

        def unmitigated():
            plain = replace(ctx.estimator.sampling, postprocess=None)
            est = ctx.estimator
            before = predict(est.net, ctx.transform, ctx.x, ctx.cfg.evaluate.threshold, plain)
            return report(
                np.asarray(classes, dtype=object)[before.predicted], None
            ), before.predicted

        train = (ctx.train, ctx.transform.target.name, favourable)
        bias["mitigation"] = mitigation_report(record, bias, y, pred.predicted, unmitigated, train)
    return bias
