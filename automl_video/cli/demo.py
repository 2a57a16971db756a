"""CLI for the demo stage (placeholder until its issue lands)."""


def register(subparsers) -> None:
    pass
