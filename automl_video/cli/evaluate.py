"""CLI for the evaluate stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
