"""Data sources, versions, schemas, splits and profiles."""
