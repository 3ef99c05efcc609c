"""``assay forget (--where EXPR | --keys FILE [--key COLUMN])``: delete a data subject's rows
on demand. Finds every prepared version, model and registry version that holds them (by
the row fingerprints prepare records), writes a new data version without them through
DVC, flags the registry versions trained on them, and records every step in the audit
trail without the values themselves."""

from __future__ import annotations

import argparse
import json
import sys

from assayml.errors import EXIT_OK, AssayError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assay forget", description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides")
    p.add_argument("--where", help="a pandas query on the raw table: the rows to forget")
    p.add_argument("--keys", help="CSV/Parquet listing the data subjects' keys")
    p.add_argument("--key", help="the key column (default: data.key)")
    p.add_argument("--reason", default="", help="why (e.g. the request's ticket): audited")
    p.add_argument("--captures", help="a capture folder to search and purge as well")
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    p.add_argument(
        "--watch-state",
        default="reports/monitor/state.json",
        help="`assay monitor --watch`'s state: moved past the records removed from capture "
        "files it has read (default: reports/monitor/state.json)",
    )
    p.add_argument(
        "--params",
        help="a composed config to read (default: params.yaml when present and no "
        "overrides are given, else conf/)",
    )
    p.add_argument("--dry-run", action="store_true", help="find and list; change nothing")
    p.add_argument("--retrain", action="store_true", help="then run dvc repro (or assay run)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    return p


def run_forget(args: list[str]) -> int:
    opts = parser().parse_intermixed_args(args)
    try:
        return _forget(opts)
    except AssayError as err:
        print(f"assay forget: error: {err}", file=sys.stderr)
        return err.exit_code


def _forget(opts) -> int:
    from pathlib import Path

    from assayml.audit import append
    from assayml.audit.log import current_user
    from assayml.errors import EXIT_CHECK_FAILED
    from assayml.forget.run import ForgetFailed, Request, forget, retrain

    cfg = load_config(opts.params, opts.overrides)
    request = Request(
        where=opts.where,
        keys=opts.keys,
        key=opts.key,
        reason=opts.reason,
        captures=opts.captures,
        registry=opts.registry,
        dry_run=opts.dry_run,
        watch_state=Path(opts.watch_state),
        retrain=opts.retrain,
    )
    user = current_user()
    try:
        outcome = forget(cfg, request, user)
    except ForgetFailed as failed:
        details = {**audit_details(failed.outcome, opts.reason), "failed_at": failed.step}
        append(".", "forget.failed", cfg.data.path, details=details, user=user)
        raise
    if not opts.dry_run:
        append(
            ".",
            "forget",
            cfg.data.path,
            inputs={cfg.data.path: outcome.old_md5},
            outputs={cfg.data.path: outcome.new_md5, "report": outcome.report},
            details=audit_details(outcome, opts.reason),
            user=user,
        )
    if opts.retrain and outcome.new_md5:
        outcome.retrained = retrain(cfg.paths.root_dir)
        append(
            ".",
            "forget retrain",
            cfg.data.path,
            inputs={cfg.data.path: outcome.new_md5},
            details={"request": outcome.request_id, **outcome.retrained},
            user=user,
        )
    print(json.dumps(outcome.to_dict(), indent=2) if opts.json else summary(outcome))
    unsearched = [c.path for c in outcome.captures if c.error]
    if unsearched:
        print(
            f"assay forget: {len(unsearched)} capture files could not be searched (listed "
            "above): the subject may still be in them",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    return EXIT_OK


def load_config(params: str | None, overrides: list[str]):
    """The pipeline's config: ``params.yaml`` (what ``dvc repro`` ran) when it is there and
    no override is given, else conf/ composed with the overrides."""
    from pathlib import Path

    from assayml.config import compose, load_params, to_typed

    if params is None and not overrides and Path("params.yaml").is_file():
        params = "params.yaml"
    return to_typed(load_params(params) if params else compose(overrides))


def audit_details(outcome, reason: str) -> dict:
    """What the trail keeps: ids, counts and hashes; never a forgotten value."""
    held = [h for h in outcome.holders if h.holds]
    return {
        "request": outcome.request_id,
        "reason": reason,
        "selection": outcome.selection.kind,
        "rows": int(outcome.selection.mask.sum()),
        "versions_holding": [h.where for h in held],
        "versions_not_checked": sorted(outcome.unchecked_versions.values()),
        "registry_flagged": outcome.flagged,
        "keys_matching_no_row": outcome.selection.unmatched_keys,
        "captures_purged": sum(c.records for c in outcome.captures if c.new_content),
        "capture_files_rewritten": len(outcome.purged),
        "capture_files_not_searched": len([c for c in outcome.captures if c.error]),
        "new_data_md5": outcome.new_md5,
    }


def summary(outcome) -> str:
    sel = outcome.selection
    lines = [f"{outcome.request_id}: {int(sel.mask.sum())} rows selected ({sel.kind})"]
    if sel.unmatched_keys:
        lines.append(f"  {sel.unmatched_keys} keys match no row of today's table")
    for h in outcome.holders:
        state = (
            "holds " + ", ".join(f"{n} {s}" for n, s in h.splits.items())
            if h.splits
            else "holds them (its data version does)"
            if h.by_data
            else "clean"
            if h.checked
            else "NOT CHECKED (no fingerprints to read)"
        )
        lines.append(f"  {h.kind:<9} {h.where}: {state}")
    for md5, where in outcome.unchecked_versions.items():
        lines.append(f"  data version {md5} ({where}): NOT CHECKED (never prepared here)")
    for c in outcome.captures:
        lines.append(
            f"  capture {c.path}: {c.records} of {c.total} records"
            + (f" ({c.error})" if c.error else "")
        )
    if outcome.new_md5:
        lines.append(
            f"new data version: md5 {outcome.new_md5}"
            + (" (dvc add done: commit the .dvc file)" if outcome.dvc_tracked else "")
        )
    if outcome.flagged:
        lines.append(f"flagged as trained on deleted data: {', '.join(outcome.flagged)}")
    if outcome.report:
        lines.append(f"report: {outcome.report}")
    if outcome.retrained:
        lines.append(f"retrained: {outcome.retrained['command']} (exit 0)")
    lines.append(
        "older versions stay in git history and the DVC cache/remote until you "
        "remove them (dvc gc); the list above says where"
    )
    return "\n".join(lines)
