"""``assay monitor IN [--labels L]``: new rows (a file or a capture folder) against the
monitoring baseline; exit 3 when any check is violated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assayml.errors import EXIT_CHECK_FAILED, EXIT_OK, AssayError
from assayml.verbosity import say

OUT_DIR = "reports/monitor"
BASELINE_DIR = "monitoring"


def run_monitor(args: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="assay monitor",
        description="data quality, drift, model quality, attribution and bias drift against "
        "the baseline (`assay baseline`); exit 3 when any check is violated",
    )
    p.add_argument("input", help="CSV/Parquet file, or a capture folder (assay serve --capture)")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="monitor.KEY=VALUE",
        help="override the baseline's settings, e.g. monitor.alpha=0.01",
    )
    p.add_argument(
        "--labels",
        help="ground truth: CSV/Parquet with the target (or 'label') "
        "column, joined on id/capture_id, else row by row",
    )
    p.add_argument("--model", help="models folder or registry ref (default: ./models)")
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    p.add_argument("--baseline", default=BASELINE_DIR, help=f"default: {BASELINE_DIR}/")
    p.add_argument("--out", default=OUT_DIR, help=f"report folder (default: {OUT_DIR}/)")
    p.add_argument("--threshold", type=float, default=0.5, help="binary decision threshold")
    opts = p.parse_intermixed_args(args)
    try:
        return _monitor(opts)
    except AssayError as err:
        print(f"assay monitor: error: {err}", file=sys.stderr)
        return err.exit_code


def _monitor(opts) -> int:
    from assayml.audit import append
    from assayml.monitor.inputs import load_baseline, read_current, read_labels, with_overrides
    from assayml.monitor.run import monitor, write_outputs
    from assayml.serve.deployed import load_deployed

    baseline = with_overrides(load_baseline(opts.baseline), opts.overrides)
    deployed = load_deployed(opts.model, opts.registry)
    current = read_current(opts.input, baseline.settings.in_memory_rows)
    target = deployed.transform.target.name
    labels = read_labels(opts.labels, current, target) if opts.labels else None
    report = monitor(current, baseline, deployed, labels, opts.threshold)
    write_outputs(report, baseline, current, opts.out)
    found = report["violations"]
    append(
        ".",
        "monitor.run",
        str(Path(opts.out) / "violations.json"),
        inputs={"current": current.source, "baseline": str(baseline.directory)},
        details={
            "model": deployed.lineage_id,
            "rows": report["rows"],
            "violations": len(found),
            "recommendation": report["recommendation"]["action"],
        },
    )
    say(_summary(report, opts.out))
    return EXIT_CHECK_FAILED if found else EXIT_OK


def _summary(report: dict, out: str) -> str:
    lines = [
        f"monitored {report['rows']} rows of {report['source']} against {report['baseline']}: "
        f"{len(report['violations'])} violations"
    ]
    lines += [
        f"  {v['feature_name']}: {v['constraint_check_type']} ({v['description']})"
        for v in report["violations"][:20]
    ]
    quality = report.get("model_quality")
    if quality:
        low, high = quality["spread"]["ci95"]
        lines.append(
            f"  {quality['metric']} {quality['current']} (95% {low}-{high}; baseline "
            f"{quality['baseline']}) on {quality['rows']} labelled rows"
        )
    verdict = report["recommendation"]
    lines.append(f"recommendation: {verdict['action']} ({verdict['reason']})")
    lines.append(f"report: {out}/report.html, {out}/violations.json")
    return "\n".join(lines)
