"""The data engine: datasets, import, splits."""
