"""CLI for the dataset stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
