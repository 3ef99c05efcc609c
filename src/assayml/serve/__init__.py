"""Deployment: batch prediction, the HTTP endpoint, and data capture."""
