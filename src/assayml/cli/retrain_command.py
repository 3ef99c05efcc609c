"""``assay retrain NAME --traffic DIR --ground-truth FILE (--data-rev REV | --command CMD)``:
the retraining loop. Retrain on a new data version, register the model as challenger,
compare it with the version in production on recent labelled traffic, and promote it only
when it is significantly better; every step goes into the audit trail.

Glue only: each step is the command a person would run (``dvc exp run``, ``assay registry
register / compare / approve / promote``), called in-process so each records itself."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from typing import Any

from assayml.errors import EXIT_OK, AssayError, BadInputError

LOOP_USER = "assay-retrain"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assay retrain", description=__doc__.splitlines()[0])
    p.add_argument("name", help="the registered model whose production version is champion")
    p.add_argument("--traffic", required=True, help="capture folder of recent requests")
    p.add_argument("--ground-truth", required=True, help="their labels (CSV/Parquet: id, target)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--data-rev", help="retrain with `dvc exp run -S data.rev=REV`")
    how.add_argument("--command", help="retrain with this command (no shell), e.g. 'assay run'")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --data-rev: a further `dvc exp run -S` override (DVC composes conf/ for "
        "each experiment, so choices not in conf/'s defaults, e.g. data=loans, go here)",
    )
    p.add_argument("--models", default="models", help="where the command leaves the model")
    p.add_argument("--stage", default="production", choices=("production", "staging"))
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    p.add_argument("--by", default=LOOP_USER, help=f"who acts (default: {LOOP_USER})")
    p.add_argument(
        "--from-alert",
        action="store_true",
        help="read the monitor alert's JSON from stdin (as monitor.alerts.command gives it) "
        "and record which execution triggered the retraining",
    )
    p.add_argument("--json", action="store_true")
    return p


def run_retrain(args: list[str]) -> int:
    opts = parser().parse_args(args)
    try:
        outcome = retrain_loop(opts)
    except AssayError as err:
        print(f"assay retrain: error: {err}", file=sys.stderr)
        return err.exit_code
    print(json.dumps(outcome, indent=2) if opts.json else summary(outcome))
    return EXIT_OK


def registry(opts, *args: str) -> str:
    """One ``assay registry`` action, in-process (it audits and mirrors to GTO itself)."""
    from assayml.cli.registry_command import dispatch
    from assayml.cli.registry_command import parser as registry_parser

    where = ["--registry", opts.registry] if opts.registry else []
    return dispatch(registry_parser().parse_args([*where, *args]))


def retrain_command(opts) -> list[str]:
    if opts.data_rev is not None:
        sets = [arg for value in [*opts.set, f"data.rev={opts.data_rev}"] for arg in ("-S", value)]
        return [sys.executable, "-m", "dvc", "exp", "run", *sets]
    if opts.set:
        raise BadInputError("--set goes with --data-rev; put overrides in --command")
    try:
        command = shlex.split(opts.command)
    except ValueError as err:
        raise BadInputError(f"--command: cannot split it into arguments: {err}") from None
    if not command:
        raise BadInputError("--command: empty")
    return command


def trigger(opts) -> dict[str, Any]:
    if not opts.from_alert:
        return {"by": "command line"}
    try:
        alert = json.loads(sys.stdin.read() or "{}")
    except json.JSONDecodeError as err:
        raise BadInputError(f"--from-alert: stdin is not the alert's JSON: {err}") from None
    if not isinstance(alert, dict):
        raise BadInputError("--from-alert: stdin holds JSON, but not an alert (an object)")
    return {
        "by": "monitor alert",
        "execution": alert.get("execution"),
        "violations": len(alert.get("violations") or []),
        "report": alert.get("report"),
    }


def retrain_loop(opts) -> dict[str, Any]:
    """The loop's steps; a failure after ``retrain.start`` records ``retrain.failed``
    naming the step (and the challenger, once registered) before it is reported."""
    from assayml.audit import append
    from assayml.registry.store import Registry

    champion = Registry(opts.registry).resolve(f"{opts.name}@{opts.stage}")
    command = retrain_command(opts)
    shown = " ".join(command[2:] if opts.data_rev is not None else command)
    started = {"champion": f"{opts.name}@{champion['version']}", "command": shown}
    append(
        ".", "retrain.start", opts.name, details={**started, "trigger": trigger(opts)}, user=opts.by
    )
    progress: dict[str, Any] = {"step": "retrain"}
    try:
        outcome = loop_steps(opts, champion, command, started, progress)
    except Exception as err:
        append(
            ".",
            "retrain.failed",
            opts.name,
            user=opts.by,
            details={**started, **progress, "error": type(err).__name__},
        )
        if isinstance(err, AssayError):
            raise
        raise BadInputError(f"{progress['step']}: {err}") from err
    append(
        ".",
        "retrain.done",
        opts.name,
        user=opts.by,
        details={
            "champion": outcome["champion"],
            "challenger": outcome["challenger"],
            "promoted": outcome["promoted"],
            "p_value": outcome["compare"]["test"]["p_value"],
            "rows": outcome["compare"]["rows"],
        },
    )
    return outcome


def loop_steps(opts, champion, command, started, progress: dict[str, Any]) -> dict[str, Any]:
    shown = started["command"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as err:
        raise BadInputError(f"retraining command `{shown}` could not start: {err}") from None
    if done.returncode != 0:
        progress["exit"] = done.returncode
        raise BadInputError(
            f"retraining command `{shown}` exited {done.returncode}: "
            f"{done.stderr.strip()[-800:]}; the champion stays"
        )
    progress["step"] = "register"
    registered = registry(opts, "register", opts.models, "--name", opts.name, "--by", opts.by)
    challenger = int(registered.split(":")[0].rsplit("@", 1)[1])
    progress.update(step="compare", challenger=f"{opts.name}@{challenger}")
    result = json.loads(
        registry(
            opts,
            "compare",
            opts.name,
            str(champion["version"]),
            str(challenger),
            "--traffic",
            opts.traffic,
            "--ground-truth",
            opts.ground_truth,
            "--json",
            "--by",
            opts.by,
        )
    )
    outcome = {**started, "challenger": f"{opts.name}@{challenger}", "compare": result}
    if result["challenger_significantly_better"]:
        primary = result["primary_metric"]
        diff = result["differences"][primary]
        reason = (
            f"won champion/challenger on {result['rows']} labelled requests: {primary} "
            f"{diff['difference']:+.4f} (95% CI {diff['ci95'][0]:+.4f}..{diff['ci95'][1]:+.4f}),"
            f" {result['test']['name']} p={result['test']['p_value']:.3g}"
        )
        progress["step"] = "approve"
        registry(opts, "approve", opts.name, str(challenger), "--by", opts.by, "--reason", reason)
        progress["step"] = "promote"
        registry(
            opts, "promote", opts.name, str(challenger), "--stage", opts.stage, "--by", opts.by
        )
    outcome["promoted"] = bool(result["challenger_significantly_better"])
    return outcome


def summary(outcome: dict[str, Any]) -> str:
    result = outcome["compare"]
    primary = result["primary_metric"]
    diff = result["differences"][primary]
    verdict = (
        f"promoted {outcome['challenger']}"
        if outcome["promoted"]
        else f"kept {outcome['champion']}; {outcome['challenger']} stays pending review"
    )
    return (
        f"retrained with `{outcome['command']}` -> {outcome['challenger']}\n"
        f"compared with {outcome['champion']} on {result['rows']} labelled requests: "
        f"{primary} {diff['difference']:+.4f}, {result['test']['name']} "
        f"p={result['test']['p_value']:.3g}\n{verdict}"
    )
