"""CLI for the export stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
