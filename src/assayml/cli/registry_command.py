"""``assay registry``: register, list, show, approve, reject, promote, archive, compare."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from assayml.errors import EXIT_OK, AssayError, BadInputError

TRUST_HELP = (
    "also trust the model builders defined in MODULE (or the exact target MODULE.fn); "
    "repeatable. assayml's own builders and the _target_s in conf/ are always trusted"
)


def trust_option(p: argparse.ArgumentParser) -> None:
    """``--trust-builder MODULE`` (repeatable): for commands that load or register models."""
    p.add_argument(
        "--trust-builder", action="append", default=[], metavar="MODULE", help=TRUST_HELP
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assay registry", description=__doc__.splitlines()[0])
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    sub = p.add_subparsers(dest="action", required=True)
    reg = sub.add_parser("register", help="store a trained models folder as the next version")
    reg.add_argument("models_dir")
    reg.add_argument("--name", required=True)
    reg.add_argument("--by", help="who registers (default: $ASSAY_USER or the login name)")
    trust_option(reg)
    sub.add_parser("list", help="every model and version").add_argument("name", nargs="?")
    show = sub.add_parser("show", help="one version: status, stage, metrics, provenance")
    show.add_argument("name")
    show.add_argument("version", type=int)
    show.add_argument("--json", action="store_true")
    for action in ("approve", "reject"):
        review = sub.add_parser(action, help=f"{action} a version (with who and why)")
        review.add_argument("name")
        review.add_argument("version", type=int)
        review.add_argument("--by", help="reviewer (default: $ASSAY_USER or the login name)")
        review.add_argument("--reason", required=True)
    promote = sub.add_parser("promote", help="move an approved version to a stage")
    promote.add_argument("name")
    promote.add_argument("version", type=int)
    promote.add_argument("--stage", required=True, choices=("staging", "production"))
    promote.add_argument("--by")
    archive = sub.add_parser("archive", help="retire a version from every stage")
    archive.add_argument("name")
    archive.add_argument("version", type=int)
    archive.add_argument("--by")
    archive.add_argument("--reason", default="")
    compare = sub.add_parser("compare", help="champion vs challenger on a shared holdout")
    compare.add_argument("name")
    compare.add_argument("champion", type=int)
    compare.add_argument("challenger", type=int)
    compare.add_argument(
        "--data",
        help="holdout CSV/Parquet with the target column (default: data/prepared/test.parquet)",
    )
    compare.add_argument(
        "--traffic",
        help="instead of --data: a capture folder (assay serve --capture); its requests "
        "with labels from --ground-truth are the holdout",
    )
    compare.add_argument(
        "--ground-truth", help="labels for --traffic: CSV/Parquet with id and the target"
    )
    compare.add_argument("--by", help="who compares (default: $ASSAY_USER or the login name)")
    compare.add_argument("--json", action="store_true")
    trust_option(compare)
    return p


def run_registry(args: list[str]) -> int:
    opts = parser().parse_args(args)
    try:
        print(dispatch(opts))
    except AssayError as err:
        print(f"assay registry: error: {err}", file=sys.stderr)
        return err.exit_code
    return EXIT_OK


def dispatch(opts) -> str:
    from assayml.audit import append
    from assayml.audit.log import current_user
    from assayml.registry.store import Registry

    registry = Registry(opts.registry)
    user = getattr(opts, "by", None) or current_user()
    if opts.action == "list":
        return format_list(registry, opts.name)
    if opts.action == "show":
        doc = registry.get(opts.name, opts.version)
        return json.dumps(doc, indent=2) if opts.json else format_show(doc)
    if opts.action == "compare":
        return compare(registry, opts)
    before = registry.get(opts.name, opts.version) if opts.action == "reject" else None
    doc = change(registry, opts, user)
    subject = f"{doc['name']}@{doc['version']}"
    gto = mirror_to_gto(registry, opts, doc, user, before)
    if gto:
        print(gto, file=sys.stderr)
    append(
        ".",
        f"registry.{opts.action}",
        subject,
        outputs=doc["files"],
        config_hash=doc["metadata"].get("config_hash"),
        user=user,
        details={
            "status": doc["status"],
            "stage": doc["stage"],
            "reason": getattr(opts, "reason", None),
            **({"gto": gto} if gto else {}),
        },
    )
    return f"{subject}: {doc['status']}" + (f", stage {doc['stage']}" if doc["stage"] else "")


def change(registry, opts, user: str) -> dict[str, Any]:
    if opts.action == "register":
        from assayml.models.trust import project_trust
        from assayml.registry.collect import collect
        from assayml.registry.paths import check_name

        check_name(opts.name, "registry register --name")  # before reading the folder
        files, metadata = collect(opts.models_dir, project_trust(opts.trust_builder))
        return registry.register(opts.name, files, metadata, user)
    if opts.action in ("approve", "reject"):
        return registry.review(opts.name, opts.version, opts.action == "approve", user, opts.reason)
    if opts.action == "promote":
        return registry.promote(opts.name, opts.version, opts.stage, user)
    return registry.archive(opts.name, opts.version, user, opts.reason)


def mirror_to_gto(registry, opts, doc, user: str, before) -> str:
    """GTO's tags (and dvc.yaml's ``artifacts:``) made to follow a change of version or
    stage; one line saying what was written or why not ("" when nothing is GTO's)."""
    if opts.action == "approve" or (opts.action == "reject" and not before["stage"]):
        return ""
    from assayml.registry.gto import mirror

    models_dir = opts.models_dir if opts.action == "register" else None
    return mirror(opts.action, doc, registry.versions(doc["name"]), user, models_dir)


def compare(registry, opts) -> str:
    from pathlib import Path

    from assayml.config.schema import FileFormat
    from assayml.data.sources import parse_table
    from assayml.errors import DataError
    from assayml.models.trust import project_trust
    from assayml.registry.compare import compare_versions

    champion = registry.get(opts.name, opts.champion)
    challenger = registry.get(opts.name, opts.challenger)
    if bool(opts.traffic) != bool(opts.ground_truth):
        raise BadInputError("--traffic and --ground-truth go together")
    if opts.traffic and opts.data:
        raise BadInputError("give --data or --traffic with --ground-truth, not both")
    if opts.traffic:
        from assayml.registry.traffic import traffic_holdout

        target = (champion["metadata"].get("model_card") or {}).get("target") or "label"
        holdout, source = traffic_holdout(opts.traffic, opts.ground_truth, target)
    else:
        path = Path(opts.data or "data/prepared/test.parquet")
        if not path.is_file():
            raise DataError(f"{path}: no holdout file (give --data)")
        holdout = parse_table(path.read_bytes(), str(path), FileFormat.auto)
        source = {"data": str(path)}
    result = compare_versions(
        registry,
        champion,
        challenger,
        holdout,
        trust=project_trust(opts.trust_builder),
    )
    result["holdout"] = source
    audit_compare(result, opts.by)
    return json.dumps(result, indent=2) if opts.json else format_compare(result)


def audit_compare(result: dict[str, Any], by: str | None) -> None:
    """The decision, with what it rests on, goes into the audit trail."""
    from assayml.audit import append

    primary = result["primary_metric"]
    append(
        ".",
        "registry.compare",
        f"{result['champion']} vs {result['challenger']}",
        details={
            "holdout": result["holdout"],
            "rows": result["rows"],
            "primary_metric": primary,
            "difference": result["differences"][primary],
            "test": result["test"],
            "challenger_significantly_better": result["challenger_significantly_better"],
        },
        user=by,
    )


def format_list(registry, name: str | None) -> str:
    names = [name] if name else registry.names()
    lines = [
        f"{'model':<16} {'version':>7}  {'status':<22} {'stage':<11} {'registered':<24} "
        f"{'by':<10} metrics"
    ]
    for model in names:
        for doc in registry.versions(model):
            metrics = doc["metadata"].get("metrics") or {}
            shown = "  ".join(
                f"{k}={metrics[k]:.4g}"
                for k in ("accuracy", "auroc", "rmse", "r2")
                if isinstance(metrics.get(k), (int, float))
            )
            if doc.get("deleted_data"):
                shown += "  [trained on deleted data]"
            lines.append(
                f"{model:<16} {doc['version']:>7}  {doc['status']:<22} "
                f"{doc['stage'] or '-':<11} {doc['registered_at']:<24} "
                f"{doc['registered_by']:<10} {shown}"
            )
    return "\n".join(lines)


def format_show(doc: dict[str, Any]) -> str:
    meta = doc["metadata"]
    git, data = meta.get("git") or {}, meta.get("data") or {}
    metrics = meta.get("metrics") or {}
    lines = [
        f"{doc['name']} v{doc['version']}: {doc['status']}, stage {doc['stage'] or '-'}",
        f"registered {doc['registered_at']} by {doc['registered_by']}",
        f"review: {doc.get('review') or '-'}",
        f"data: {data.get('path') or data.get('name')} rev {data.get('rev') or '-'} "
        f"md5 {data.get('md5')}",
        *card_lines(meta.get("data_card")),
        mitigation_line((meta.get("model_card") or {}).get("mitigation")),
        *[
            f"TRAINED ON DELETED DATA: {d['request']} ({d['at']}): {d['rows']} rows of "
            f"data md5 {d['data_md5']} forgotten; retrain it"
            for d in doc.get("deleted_data") or []
        ],
        f"code: commit {git.get('commit')} dirty {git.get('dirty')}",
        f"config hash: {meta.get('config_hash')}; weights sha256: {meta.get('weights_sha256')}",
        "metrics: "
        + ", ".join(f"{k}={v}" for k, v in metrics.items() if isinstance(v, (int, float))),
        "files: " + ", ".join(f"{k} ({v[:12]})" for k, v in doc["files"].items()),
        "history:",
    ]
    lines += [
        f"  {h['time']}  {h['user']:<10} {h['action']}"
        + (f": {h['reason']}" if h.get("reason") else "")
        for h in doc["history"]
    ]
    return "\n".join(lines)


def mitigation_line(entry: dict[str, Any] | None) -> str:
    """The model's bias mitigation, as its card records it."""
    if not entry or entry.get("method") in (None, "none"):
        return "bias mitigation: none"
    extra = f", {entry['constraint']}" if entry.get("constraint") else ""
    return f"bias mitigation: {entry['method']} on {entry.get('facet')}{extra}"


def card_lines(card: dict[str, Any] | None) -> list[str]:
    """The data card, one field a line; a version trained before cards existed says so."""
    if not card:
        return ["data card: none recorded"]
    return ["data card:"] + [
        f"  {key}: {printable(', '.join(map(str, value)) if isinstance(value, list) else value)}"
        for key, value in card.items()
    ]


def printable(value: Any) -> str:
    """Text from a registry document, which may come from elsewhere, without control
    characters (a terminal escape sequence stays text)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))


def format_compare(result: dict[str, Any]) -> str:
    lines = [
        f"champion {result['champion']} vs challenger {result['challenger']} on "
        f"{result['rows']} rows"
    ]
    source = result.get("holdout") or {}
    if "traffic" in source:
        lines.append(
            f"  traffic {source['traffic']}: {source['labelled_rows']} of "
            f"{source['captured_rows']} captured requests labelled by {source['file']} "
            f"({source['unmatched_labels']} labels matched no request)"
        )
    for metric, diff in result["differences"].items():
        a, b = result["metrics"]["champion"][metric], result["metrics"]["challenger"][metric]
        low, high = diff["ci95"]
        lines.append(
            f"  {metric:<9} {a:.4f} -> {b:.4f}  difference {diff['difference']:+.4f} "
            f"(95% CI {low:+.4f} .. {high:+.4f})"
        )
    test = result["test"]
    lines.append(f"  {test['name']}: p = {test['p_value']:.4g}")
    verdict = "IS" if result["challenger_significantly_better"] else "is NOT"
    lines.append(f"the challenger {verdict} significantly better on {result['primary_metric']}")
    return "\n".join(lines)
