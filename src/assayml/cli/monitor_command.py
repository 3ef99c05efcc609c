"""``assay monitor IN | --watch DIR [--ground-truth L] [--webhook URL]``: new rows (a file or
a capture folder) against the monitoring baseline; exit 3 when any check is violated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assayml.errors import EXIT_CHECK_FAILED, EXIT_OK, AssayError
from assayml.verbosity import say

OUT_DIR = "reports/monitor"
BASELINE_DIR = "monitoring"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="assay monitor",
        description="data quality, drift, model quality, attribution and bias drift against "
        "the baseline (`assay baseline`); exit 3 when any check is violated",
    )
    p.add_argument(
        "input",
        nargs="?",
        help="CSV/Parquet file, or a capture folder (assay serve --capture), read whole",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="monitor.KEY=VALUE",
        help="override a setting, e.g. monitor.alpha=0.01, monitor.schedule='0 * * * *'",
    )
    p.add_argument(
        "--watch",
        metavar="DIR",
        help="a capture folder: one execution over the closed files no earlier execution "
        "read (OUT/<UTC time>/, OUT/history.jsonl); on monitor.schedule when it is set",
    )
    p.add_argument("--once", action="store_true", help="with --watch: one pass, ignore schedule")
    p.add_argument(
        "--max-executions", type=int, help="with a schedule: stop after this many executions"
    )
    p.add_argument("--state", help="with --watch: the state file (default: OUT/state.json)")
    p.add_argument(
        "--ground-truth",
        "--labels",
        dest="labels",
        metavar="FILE",
        help="labels that arrived later: CSV/Parquet with the target (or 'label') column, "
        "joined on id/capture_id (else row by row)",
    )
    p.add_argument("--webhook", metavar="URL", help="alert URL (overrides monitor.alerts.webhook)")
    p.add_argument("--model", help="models folder or registry ref (default: ./models)")
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    p.add_argument("--baseline", default=BASELINE_DIR, help=f"default: {BASELINE_DIR}/")
    p.add_argument("--out", default=OUT_DIR, help=f"report folder (default: {OUT_DIR}/)")
    p.add_argument("--threshold", type=float, default=0.5, help="binary decision threshold")
    return p


def run_monitor(args: list[str]) -> int:
    opts = parser().parse_intermixed_args(args)
    if opts.input and opts.input.startswith("monitor.") and "=" in opts.input:
        opts.overrides.insert(0, opts.input)  # `--watch DIR monitor.k=v`: no IN given
        opts.input = None
    try:
        if (opts.input is None) == (opts.watch is None):
            raise _usage("give IN (a file or folder, read whole) or --watch DIR, not both")
        if opts.webhook:
            from assayml.config.monitor_schema import AlertsConfig

            try:
                AlertsConfig(webhook=opts.webhook)
            except ValueError as err:
                raise _usage(f"--webhook: {err}") from None
        return _watch(opts) if opts.watch else _monitor(opts)
    except AssayError as err:
        print(f"assay monitor: error: {err}", file=sys.stderr)
        return err.exit_code


def _usage(message: str) -> AssayError:
    from assayml.errors import BadInputError

    return BadInputError(message)


def _settings(opts):
    """(monitor.* as composed from conf/ with the operational overrides, the overrides
    of the baseline's settings)."""
    from assayml.monitor.operations import operational_settings, split_overrides

    operational, checks = split_overrides(opts.overrides)
    return operational_settings(operational), checks


def _setup(opts, settings, checks):
    from assayml.monitor.inputs import load_baseline, with_overrides
    from assayml.monitor.operations import with_operations
    from assayml.serve.deployed import load_deployed

    baseline = with_operations(with_overrides(load_baseline(opts.baseline), checks), settings)
    return baseline, load_deployed(opts.model, opts.registry)


def _monitor(opts) -> int:
    from assayml.monitor import alerts
    from assayml.monitor.ground_truth import join_labels
    from assayml.monitor.inputs import read_current
    from assayml.monitor.run import monitor, write_outputs
    from assayml.utils.io import write_json_atomic

    baseline, deployed = _setup(opts, *_settings(opts))
    current = read_current(opts.input, baseline.settings.in_memory_rows)
    target = deployed.transform.target.name
    truth = (
        join_labels(opts.labels, current.ids, len(current.frame), target) if opts.labels else None
    )
    report = monitor(current, baseline, deployed, truth.labels if truth else None, opts.threshold)
    report["ground_truth"] = truth.summary if truth else None
    write_outputs(report, baseline, current, opts.out)
    _audit(report, baseline, deployed, current.source, Path(opts.out) / "violations.json")
    say(_summary(report, opts.out))
    cfg = baseline.settings.alerts
    if alerts.wanted(cfg, opts.webhook, len(report["violations"])):
        page = str(Path(opts.out) / "report.html")
        outcome = alerts.send(cfg, alerts.payload(report, None, page), opts.webhook)
        write_json_atomic(Path(opts.out) / "alerts.json", outcome)
        say(_alert_line(outcome))
    return EXIT_CHECK_FAILED if report["violations"] else EXIT_OK


def _watch(opts) -> int:
    from assayml.monitor.executions import Watch, pending
    from assayml.monitor.schedule import run_scheduled

    if opts.max_executions is not None and opts.max_executions < 1:
        raise _usage("--max-executions must be at least 1")
    settings, checks = _settings(opts)
    schedule = None if opts.once else settings.schedule
    state = Path(opts.state) if opts.state else None
    if schedule is None and not pending(Path(opts.watch), Path(opts.out), state, settings.settle_s):
        # before loading the model: a cron job every minute mostly finds nothing new
        say(f"nothing new in {opts.watch}: no closed capture file has unread records")
        return EXIT_OK
    baseline, deployed = _setup(opts, settings, checks)
    watch = Watch(
        Path(opts.watch),
        Path(opts.out),
        baseline,
        deployed,
        opts.threshold,
        opts.labels,
        opts.webhook,
        state,
    )
    if schedule is None:
        return _one(watch)
    from assayml.config.monitor_schema import cron_trigger

    say(f"watching {watch.folder} on schedule '{schedule}' (UTC, monitor.schedule); Ctrl-C stops")
    results = run_scheduled(lambda: _one(watch), cron_trigger(schedule), opts.max_executions)
    return EXIT_CHECK_FAILED if EXIT_CHECK_FAILED in results else EXIT_OK


def _one(watch) -> int:
    """One execution, its audit entry and its summary; the exit code it calls for."""
    from assayml.monitor.executions import execute

    watch.notes = []
    line = execute(watch)
    for note in watch.notes:
        say(note)
    if line is None:
        say(f"nothing new in {watch.folder}: no closed capture file has unread records")
        return EXIT_OK
    folder = watch.out / line["folder"]
    _audit_line(line, watch, folder / "violations.json")
    say(
        f"execution {line['execution']}: {line['rows']} rows from {len(line['files'])} files, "
        f"{line['violations']} violations ({', '.join(line['checks']) or 'clean'}); "
        f"recommendation: {line['recommendation']}\nreport: {folder}/report.html"
    )
    if line.get("alerts", {}).get("status", "none") != "none":
        say(_alert_line(line["alerts"]))
    return EXIT_CHECK_FAILED if line["violations"] else EXIT_OK


def _alert_line(outcome: dict) -> str:
    parts = [
        f"{t['kind']} {t['target']}: {'ok' if t['ok'] else 'FAILED'} after "
        f"{len(t['attempts'])} attempts ({t['attempts'][-1]['outcome']})"
        for t in outcome["targets"]
    ]
    return f"alert {outcome['status']}: " + "; ".join(parts)


def _audit(report, baseline, deployed, source, written) -> None:
    from assayml.audit import append

    append(
        ".",
        "monitor.run",
        str(written),
        inputs={"current": source, "baseline": str(baseline.directory)},
        details={
            "model": deployed.lineage_id,
            "rows": report["rows"],
            "violations": len(report["violations"]),
            "recommendation": report["recommendation"]["action"],
        },
    )


def _audit_line(line, watch, written) -> None:
    from assayml.audit import append

    append(
        ".",
        "monitor.run",
        str(written),
        inputs={"current": str(watch.folder), "baseline": str(watch.baseline.directory)},
        details={
            "execution": line["execution"],
            "model": line["model"],
            "rows": line["rows"],
            "violations": line["violations"],
            "recommendation": line["recommendation"],
            "alert": line.get("alerts", {}).get("status", "none"),
        },
    )


def _summary(report: dict, out: str) -> str:
    lines = [
        f"monitored {report['rows']} rows of {report['source']} against {report['baseline']}: "
        f"{len(report['violations'])} violations"
    ]
    lines += [
        f"  {v['feature_name']}: {v['constraint_check_type']} ({v['description']})"
        for v in report["violations"][:20]
    ]
    truth = report.get("ground_truth")
    if truth:
        lines.append(
            f"  ground truth: {truth['labelled_rows']} of {report['rows']} rows labelled, "
            f"{truth['unmatched_labels']} of {truth['labels']} labels matched no row"
        )
    quality = report.get("model_quality")
    if quality and quality["spread"]["ci95"]:
        low, high = quality["spread"]["ci95"]
        lines.append(
            f"  {quality['metric']} {quality['current']} (95% {low}-{high}; baseline "
            f"{quality['baseline']}) on {quality['rows']} labelled rows"
        )
    verdict = report["recommendation"]
    lines.append(f"recommendation: {verdict['action']} ({verdict['reason']})")
    lines.append(f"report: {out}/report.html, {out}/violations.json")
    return "\n".join(lines)
