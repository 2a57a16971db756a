"""Request and reply bodies through the real protos: a body parses into its proto message (unknown
fields refused) and a reply is the message's proto3 JSON, so the wire format is the protos' by
construction.

``$alt=json;enum-encoding=int`` (what Google's REST clients send with every call) asks for enums as
integers; any other ``$alt`` is refused.
"""

import json
from typing import Any

from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message

from automl_video.rpc import Code
from automl_video.server.errors import ApiError

ANY_PREFIX = "type.googleapis.com/"


def parse_body(body: bytes, message_type: Any) -> Any:
    """A message of ``message_type`` (proto-plus or protobuf) from a JSON body (empty: the default message)."""
    message = message_type()
    if body.strip():
        try:
            json_format.Parse(body, pb(message), ignore_unknown_fields=False)
        except json_format.ParseError as e:
            raise ApiError(Code.INVALID_ARGUMENT, f"invalid {message_type.__name__} body: {e}") from None
    return message


def parse_dict(doc: dict[str, Any], message_type: Any) -> Any:
    """A proto-plus message from its stored proto3 JSON."""
    message = message_type()
    json_format.ParseDict(doc, pb(message), ignore_unknown_fields=False)
    return message


def int_enums(alt: str | None) -> bool:
    """Whether the ``$alt`` query parameter asks for integer enums."""
    if alt is None or alt == "json":
        return False
    parts = [p.strip() for p in alt.split(";")]
    if parts[0] != "json" or any(p not in ("enum-encoding=int", "enum-encoding=string") for p in parts[1:]):
        raise ApiError(Code.INVALID_ARGUMENT, f"$alt={alt!r}: only json (optionally ;enum-encoding=int) is served")
    return "enum-encoding=int" in parts[1:]


def pb(message: Any) -> Message:
    """The protobuf message behind a proto-plus one (a protobuf message as it is)."""
    return message if isinstance(message, Message) else type(message).pb(message)


def to_dict(message: Any, integer_enums: bool = False) -> dict[str, Any]:
    return json_format.MessageToDict(pb(message), use_integers_for_enums=integer_enums)


def to_json(message: Any, integer_enums: bool = False) -> bytes:
    return json.dumps(to_dict(message, integer_enums), separators=(",", ":")).encode()


def packed(message: Any) -> dict[str, Any]:
    """``message`` as a ``google.protobuf.Any`` in proto3 JSON (``@type`` and its fields)."""
    wrapper = any_pb2.Any()
    wrapper.Pack(pb(message))
    return json_format.MessageToDict(wrapper)
