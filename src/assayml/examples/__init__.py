"""Worked examples of bringing your own code: a LightningDataModule over a folder of PNG
images with a small CNN LightningModule (``digits_folder``), and a user ``nn.Module`` for
tables trained by assayml's own module (``tabular_net``). Copy them into your project."""
