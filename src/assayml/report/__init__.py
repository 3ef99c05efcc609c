"""``assay report``: one self-contained HTML page for a run, the workspace or a registered
version."""
