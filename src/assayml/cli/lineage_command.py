"""``assay lineage REF``: a models folder (``models/``) or a registry version
(``churn@3``, ``churn@production``), back to raw data; ``--json`` or ``--dot``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assayml.errors import EXIT_OK, AssayError


def run_lineage(args: list[str]) -> int:
    p = argparse.ArgumentParser(prog="assay lineage", description=__doc__.splitlines()[0])
    p.add_argument("ref", help="a models folder, or name@version / name@production")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--dot", action="store_true", help="Graphviz DOT")
    p.add_argument("--registry", help="registry folder (default: $ASSAY_REGISTRY or registry/)")
    opts = p.parse_args(args)
    from assayml.lineage import render, sources
    from assayml.registry.store import Registry

    try:
        if Path(opts.ref).is_dir():
            lineage = sources.from_models_dir(opts.ref)
        else:
            registry = Registry(opts.registry)
            lineage = sources.from_version(registry, registry.resolve(opts.ref))
    except AssayError as err:
        print(f"assay lineage: error: {err}", file=sys.stderr)
        return err.exit_code
    print(
        render.as_json(lineage)
        if opts.json
        else render.as_dot(lineage)
        if opts.dot
        else render.as_text(lineage)
    )
    return EXIT_OK
