"""The pipeline stages: one plain function per stage, ``run_<stage>(cfg) -> StageRecord``.

The CLI, ``assay run``, the DVC stages and the tests all call these functions; the table of
stages is in :mod:`assayml.stages.table`.
"""
