"""Lightning training: data batches, the LightningModule, loggers and the fit itself."""
