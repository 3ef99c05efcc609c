"""``assay runs``: list runs and sweep jobs; ``assay runs compare A B``: what differs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from assayml.errors import EXIT_OK, AssayError, BadInputError

HEADLINE_METRICS = ("accuracy", "auroc", "f1", "rmse", "r2", "cv.accuracy_mean", "cv.rmse_mean")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assay runs", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--limit", type=int, default=50, help="newest N runs (default 50)")
    sub = p.add_subparsers(dest="action")
    compare = sub.add_parser("compare", help="config, data, code and metric differences")
    compare.add_argument(
        "a",
        help="run id or its unique end (see `assay runs`); or a git revision (HEAD~1, a "
        "tag, a sha) or DVC experiment name (`dvc exp show`)",
    )
    compare.add_argument("b", help="the same kind as A")
    compare.add_argument("--json", action="store_true", dest="json_compare")
    return p


def run_runs(args: list[str]) -> int:
    from assayml.experiments.runs import compare_runs, find_runs, matching_runs, resolve_run

    opts = parser().parse_args(args)
    try:
        runs = find_runs()
        if opts.action == "compare":
            if all(matching_runs(ref, runs) for ref in (opts.a, opts.b)):
                diff = compare_runs(resolve_run(opts.a, runs), resolve_run(opts.b, runs))
                formatted = format_compare
            else:
                diff, formatted = compare_commits(opts.a, opts.b, runs), format_commits
            print(json.dumps(diff, indent=2) if opts.json_compare else formatted(diff))
            return EXIT_OK
    except AssayError as err:
        print(f"assay runs: error: {err}", file=sys.stderr)
        return err.exit_code
    runs = runs[: opts.limit]
    print(
        json.dumps([{"id": r.id, **r.doc} for r in runs], indent=2)
        if opts.json
        else format_list(runs)
    )
    return EXIT_OK


def compare_commits(a: str, b: str, runs) -> dict[str, Any]:
    """Two git revisions or DVC experiments, read at their commits (exit 2 naming a ref
    that names neither a run nor a revision)."""
    from assayml.experiments import commits
    from assayml.experiments.runs import matching_runs

    repo = commits.open_repo()
    try:
        sides = []
        for ref in (a, b):
            revision = commits.resolve_revision(repo, ref) if repo is not None else None
            if revision is not None:
                sides.append(revision)
            elif matching_runs(ref, runs):
                raise BadInputError(
                    f"'{ref}' is a run and the other side is not: compare two runs or two "
                    "git revisions / DVC experiments"
                )
            else:
                where = "" if repo is not None else " (not in a git + DVC repository)"
                raise BadInputError(
                    f"no run matches '{ref}' (see `assay runs`), nor does a git revision "
                    f"or DVC experiment (see `dvc exp show`){where}"
                )
        return commits.compare_revisions(
            *(commits.read_revision(repo, side) for side in sides), repo.root_dir
        )
    finally:
        if repo is not None:
            repo.close()


def format_list(runs) -> str:
    if not runs:
        return "no runs yet (runs leave .assay/runs/*/run.json; sweeps multirun/*/*/run.json)"
    rows = [("id", "command", "status", "data", "commit", "metrics", "overrides")]
    for run in runs:
        doc = run.doc
        data, git = doc.get("data") or {}, doc.get("git") or {}
        commit = (git.get("commit") or "-")[:8] + ("*" if git.get("dirty") else "")
        shown = "  ".join(
            f"{k}={run.metrics[k]:.4g}"
            for k in HEADLINE_METRICS
            if isinstance(run.metrics.get(k), (int, float))
        )
        rows.append(
            (
                run.id,
                doc.get("command", ""),
                doc.get("status", ""),
                (data.get("md5") or "-")[:8],
                commit,
                shown,
                " ".join(doc.get("overrides", [])),
            )
        )
    return _table(rows)


def format_compare(diff: dict[str, Any]) -> str:
    a, b = diff["runs"]
    lines = [f"A = {a} ({diff['status'][0]})", f"B = {b} ({diff['status'][1]})", "", "config:"]
    lines += [f"  {k}: {va!r} -> {vb!r}" for k, (va, vb) in diff["config"].items()] or ["  same"]
    for name in ("data", "code"):
        part = diff[name]
        lines.append(
            f"{name}: "
            + (
                "same " + _brief(part["a"])
                if part["same"]
                else f"{_brief(part['a'])} -> {_brief(part['b'])}"
            )
        )
    lines.append("metrics:")
    rows = [("", "A", "B", "B - A")] + [
        (k, _num(va), _num(vb), _num(d)) for k, (va, vb, d) in diff["metrics"].items()
    ]
    lines += ["  " + line for line in _table(rows).splitlines()]
    return "\n".join(lines)


def format_commits(diff: dict[str, Any]) -> str:
    lines = []
    for label, side in zip("AB", diff["revisions"], strict=True):
        what = f"experiment {side['experiment']}, " if side["experiment"] else ""
        base = f", baseline {side['baseline'][:8]}" if side["baseline"] else ""
        lines.append(f"{label} = {side['ref']} ({what}commit {side['commit'][:8]}{base})")
    lines += ["", "params:"]
    lines += [f"  {k}: {va!r} -> {vb!r}" for k, (va, vb) in diff["params"].items()] or ["  same"]
    lines.append("metrics:")
    if diff["metrics"]:
        rows = [("", "A", "B", "B - A")] + [
            (k, _num(va), _num(vb), _num(d)) for k, (va, vb, d) in diff["metrics"].items()
        ]
        lines += ["  " + line for line in _table(rows).splitlines()]
    else:
        lines.append("  none at either revision")
    data = diff["data"]
    lines.append("data:" + ("" if data["changed"] or not data["paths"] else " same"))
    for path, (ha, hb) in data["paths"].items():
        change = f"{_md5(ha)} -> {_md5(hb)}" if ha != hb else f"same {_md5(ha)}"
        lines.append(f"  {path}: {change}")
    lines.append(f"code: {len(diff['code'])} files changed" if diff["code"] else "code: same")
    lines += [f"  {path}" for path in diff["code"]]
    weights = diff["weights"]
    sha_a, sha_b = (
        sha[:12] if sha else f"models md5 {_md5(md5)}" if md5 else "-"
        for sha, md5 in zip(weights["sha256"], weights["models_md5"], strict=True)
    )
    if weights["same"] is None:
        lines.append("weights: none (no models/ in dvc.lock at either revision)")
    else:
        lines.append(
            f"weights: same {sha_a}" if weights["same"] else f"weights: {sha_a} -> {sha_b}"
        )
    return "\n".join(lines)


def _md5(value: Any) -> str:
    return str(value)[:12] if value else "-"


def _brief(part: Any) -> str:
    if not isinstance(part, dict):
        return str(part)
    if "md5" in part:
        where = part.get("path") or part.get("name")
        return f"{where}@{part.get('rev') or 'workspace'} md5 {str(part.get('md5'))[:12]}"
    commit = str(part.get("commit"))[:12]
    return f"commit {commit}" + (" (dirty)" if part.get("dirty") else "")


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def _table(rows: list[tuple]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
