"""Bias mitigation, recorded: reweighing (pre-processing) and fairlearn's
ThresholdOptimizer (post-processing), with their fitted state as JSON in the models folder.

- :mod:`assayml.mitigation.reweighing`: Kamiran-Calders sample weights for the train split;
- :mod:`assayml.mitigation.facet`: where the mitigated facet sits in the model's inputs;
- :mod:`assayml.mitigation.postprocess`: fit the thresholds, store them, apply them;
- :mod:`assayml.mitigation.state`: ``models/mitigation.json`` (written at train, sealed in
  the manifest, read back as data only: nothing is unpickled).
"""

STATE_FILE = "mitigation.json"  # in the models folder
FORMAT_VERSION = 1
