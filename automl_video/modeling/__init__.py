"""Models as every stage sees them: metadata, loading, export (task-agnostic)."""
