"""``assay reproduce REF``: rebuild a registered model (``churn@3``) from its record in a
clean worktree; exit 0 when weights and metrics are identical, 3 with the differences."""

from __future__ import annotations

import argparse
import json
import sys

from assayml.cli.registry_command import trust_option
from assayml.errors import EXIT_CHECK_FAILED, EXIT_OK, AssayError


def run_reproduce(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="assay reproduce", description=__doc__.splitlines()[0])
    p.add_argument("ref", help="name@version, name@production, ...")
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    p.add_argument("--json", action="store_true")
    trust_option(p)  # the recorded config's builder must be trusted before it is rebuilt
    opts = p.parse_args(args)
    from assayml.audit import append
    from assayml.models.trust import project_trust
    from assayml.registry.store import Registry
    from assayml.reproduce import _warnings, reproduce
    from assayml.verbosity import quiet

    try:
        doc = Registry(opts.registry).resolve(opts.ref)
        for warning in _warnings(doc["metadata"]):
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        if not quiet():
            print(
                f"rebuilding {doc['name']}@{doc['version']} from commit "
                f"{doc['metadata']['git']['commit']} ...",
                file=sys.stderr,
                flush=True,
            )
        report = reproduce(doc, trust=project_trust(opts.trust_builder))
    except AssayError as err:
        print(f"assay reproduce: error: {err}", file=sys.stderr)
        return err.exit_code
    append(
        ".",
        "reproduce",
        report["ref"],
        details={"identical": report["identical"], "causes": report["causes"]},
    )
    print(json.dumps(report, indent=2) if opts.json else format_report(report))
    return EXIT_OK if report["identical"] else EXIT_CHECK_FAILED


def format_report(report: dict) -> str:
    if report["identical"]:
        return (
            f"{report['ref']}: reproduced from commit {report['commit'][:12]}: weights, "
            "metrics, data and config identical"
        )
    lines = [
        f"{report['ref']}: NOT reproduced; differs in {', '.join(report['differences'])}; "
        f"likely causes: {', '.join(report['causes'])}"
    ]
    for name, pair in report["differences"].items():
        lines.append(f"  {name}: recorded {pair['recorded']}")
        lines.append(f"  {' ' * len(name)}  rebuilt  {pair['rebuilt']}")
    return "\n".join(lines)
