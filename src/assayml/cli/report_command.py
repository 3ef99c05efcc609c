"""``assay report [RUN]``: one self-contained HTML page for a run or sweep job (an id from
``assay runs``), a registry version (``name@3``, ``name@production``) or, without RUN, the
workspace's pipeline outputs."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from assayml.errors import EXIT_OK, AssayError, BadInputError
from assayml.verbosity import say


def run_report(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="assay report", description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?", help="run id, name@version, or nothing for the workspace")
    p.add_argument("--out", help="the HTML file (default: beside the run, or reports/)")
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    opts = p.parse_args(args)
    try:
        path = write_report(opts.run, opts.out, opts.registry, Path("."))
    except AssayError as err:
        print(f"assay report: error: {err}", file=sys.stderr)
        return err.exit_code
    say(f"report: {path}")
    return EXIT_OK


def write_report(ref: str | None, out: str | None, registry_dir: str | None, root: Path) -> Path:
    from assayml.report import sources
    from assayml.report.html import render
    from assayml.stages.common import utc_now
    from assayml.utils.io import atomic_outputs

    with tempfile.TemporaryDirectory(prefix="assay-report-") as scratch:
        if ref is None:
            inputs, default = sources.from_workspace(root), root / "reports" / "report.html"
        elif "@" in ref:
            from assayml.registry.store import Registry

            registry = Registry(registry_dir)
            doc = registry.resolve(ref)
            inputs = sources.from_version(registry, doc, Path(scratch), root)
            name = f"report-{doc['name']}-v{doc['version']}.html"
            default = root / "reports" / name
        else:
            from assayml.experiments.runs import find_runs, resolve_run

            run = resolve_run(ref, find_runs(root))
            inputs = sources.from_run(run, root)
            default = root / run.id / "report.html"  # beside its run.json
        if inputs.config is None and inputs.lineage is None:
            raise BadInputError(
                f"{ref or 'workspace'}: nothing to report (no trained model; run the pipeline)"
            )
        page = render(inputs, utc_now())
    path = Path(out) if out else default
    with atomic_outputs() as batch:
        batch.write_text(path, page)
    return path
