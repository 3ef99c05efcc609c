"""``assay compose``: write params.yaml from conf/ (what DVC reads), or check it is current."""

from __future__ import annotations

import sys
from pathlib import Path

from assayml.errors import EXIT_OK, AssayError
from assayml.verbosity import say

USAGE = """\
usage: assay compose [overrides ...]   write params.yaml (+ params.provenance.json) from conf/
       assay compose --check           stop (exit 2) if params.yaml is stale against conf/

`dvc repro` reads params.yaml and never composes conf/; `dvc exp run` composes it itself.
After editing conf/, run `assay compose` (or `dvc exp run`) before `dvc repro`.
"""


def run_compose(args: list[str]) -> int:
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return EXIT_OK
    from assayml.config.load import compose, to_typed
    from assayml.config.params_file import check_params, write_params

    conf = Path.cwd() / "conf"
    try:
        if args == ["--check"]:
            say(f"params.yaml is current: {check_params(conf)}")
            return EXIT_OK
        cfg = compose(args, conf)
        to_typed(cfg)  # refuse to write a params.yaml that stages would reject
        path = write_params(cfg, conf)
    except AssayError as err:
        print(f"assay compose: error: {err}", file=sys.stderr)
        return err.exit_code
    say(f"wrote {path} from conf/" + (f" with {' '.join(args)}" if args else ""))
    return EXIT_OK
