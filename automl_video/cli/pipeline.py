"""CLI for the pipeline stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
