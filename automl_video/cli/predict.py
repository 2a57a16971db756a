"""CLI for the predict stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
