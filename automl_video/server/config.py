"""What ``automl-video serve`` was started with, shared by the server, its dispatcher and its workers.

Workers receive the configuration (without the API keys) as JSON in :data:`CONFIG_ENV`.
"""

import ipaddress
import json
import os
from dataclasses import asdict, dataclass

from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.registry import names

CONFIG_ENV = "AUTOML_VIDEO_SERVER_CONFIG"
DEFAULT_LOCATIONS = ("us-central1",)
LOCAL_BACKEND = "local"
KFP_BACKEND_PREFIX = "kfp:"


class ConfigError(AutoMLVideoError):
    """The server cannot start as configured; the message says what to change."""


@dataclass(frozen=True)
class ApiKeys:
    """Each API key and the projects it may use (``--api-keys FILE``); None: no keys, any project."""

    projects_by_key: dict[str, frozenset[str]] | None = None

    @classmethod
    def load(cls, path: str | None) -> "ApiKeys":
        """Read ``{"KEY": ["project", ...], ...}``; ConfigError names what is wrong with the file."""
        if path is None:
            return cls(None)
        try:
            doc = json.loads(storage.read_text(path))
        except FileNotFoundError:
            raise ConfigError(f"--api-keys {path}: no such file") from None
        except ValueError as e:
            raise ConfigError(f"--api-keys {path}: not a JSON object of key -> [projects]: {e}") from None
        if not isinstance(doc, dict) or not doc:
            raise ConfigError(f"--api-keys {path}: expected a non-empty JSON object of key -> [projects]")
        keys = {}
        for key, projects in doc.items():
            if not key or not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
                raise ConfigError(f"--api-keys {path}: key {key[:4]!r}…: give a non-empty key and a list of projects")
            for project in projects:
                names.validate_project_and_location(project, DEFAULT_LOCATIONS[0])
            keys[key] = frozenset(projects)
        return cls(keys)

    @property
    def required(self) -> bool:
        return self.projects_by_key is not None


@dataclass(frozen=True)
class ServerConfig:
    """The server's settings; see ``automl-video serve --help`` for each."""

    workspace: str
    registry_url: str
    allowed_roots: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    locations: tuple[str, ...] = DEFAULT_LOCATIONS
    train_budget_minutes: float = 60.0
    model_type: str = "MOBILE_VERSATILE_1"
    backend: str = LOCAL_BACKEND
    max_running_per_project: int = 2
    max_queued_per_project: int = 100
    max_workers: int = 2
    max_body_bytes: int = 1 << 20
    lease_seconds: float = 15.0
    poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.backend != LOCAL_BACKEND and not (
            self.backend.startswith(KFP_BACKEND_PREFIX) and len(self.backend) > len(KFP_BACKEND_PREFIX)
        ):
            raise ConfigError(f"--backend {self.backend!r}: use 'local' or 'kfp:HOST' (the KFP API server's URL)")
        for location in self.locations:
            names.validate_project_and_location("p", location)
        if self.train_budget_minutes <= 0:
            raise ConfigError(f"--train-budget-minutes {self.train_budget_minutes}: must be positive")
        for what in ("max_running_per_project", "max_queued_per_project", "max_workers", "max_body_bytes"):
            if getattr(self, what) < 1:
                raise ConfigError(f"--{what.replace('_', '-')} must be at least 1")

    @property
    def kfp_host(self) -> str | None:
        return self.backend[len(KFP_BACKEND_PREFIX) :] if self.backend.startswith(KFP_BACKEND_PREFIX) else None

    def check_binding(self, keys: ApiKeys) -> str | None:
        """Without API keys the server answers loopback only; the warning to print, or ConfigError."""
        if keys.required:
            return None
        try:
            loopback = self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(
                f"--host {self.host}: without --api-keys the server only binds to loopback (127.0.0.1); "
                "give --api-keys FILE to serve other hosts"
            )
        return (
            f"no --api-keys: listening on {self.host} (loopback only) and accepting any project without a key; "
            "give --api-keys FILE to require keys"
        )

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "ServerConfig":
        doc = json.loads(os.environ[CONFIG_ENV])
        doc["allowed_roots"] = tuple(doc["allowed_roots"])
        doc["locations"] = tuple(doc["locations"])
        return cls(**doc)
