"""Allowed roots: the only places a server reads inputs from and writes outputs to.

A URI is resolved before it is compared: local paths with ``os.path.realpath`` (``..`` and every
symbolic link followed, so a link inside a root that points outside is outside), other URLs with their
``..`` segments folded. It must then be a root or under one (a whole path segment: ``/data`` does not
admit ``/database``).
"""

import os
import posixpath
from dataclasses import dataclass

from automl_video import storage


def _resolved(uri: str) -> str:
    if "://" not in uri or uri.startswith("file://"):
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        return os.path.realpath(os.path.abspath(path))
    scheme, _, path = uri.partition("://")
    folded = posixpath.normpath("/" + path).lstrip("/")
    return f"{scheme}://{folded}"


@dataclass(frozen=True)
class AllowedRoots:
    roots: tuple[str, ...]

    @classmethod
    def of(cls, uris: list[str]) -> "AllowedRoots":
        return cls(tuple(_resolved(u).rstrip("/") or "/" for u in uris))

    def allows(self, uri: str) -> bool:
        if not isinstance(uri, str) or not uri or "\x00" in uri:
            return False
        resolved = _resolved(uri)
        return any(resolved == root or resolved.startswith(root.rstrip("/") + "/") for root in self.roots)

    def check(self, uri: str) -> str:
        """``uri`` if it is under a root; PermissionError naming it and the roots otherwise."""
        if not self.allows(uri):
            raise PermissionError(
                f"{uri} is outside the server's allowed roots ({', '.join(self.roots)}); "
                "use a location under one of them"
            )
        return uri

    def guard(self) -> storage.UriGuard:
        return self.check
