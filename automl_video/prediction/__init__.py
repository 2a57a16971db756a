"""The batch prediction engine."""
