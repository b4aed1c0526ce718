"""uvicorn's HTTP/1.1 protocol with our error shape and a bound on the request head.

uvicorn answers a request it cannot parse (bad chunking, Content-Length with
Transfer-Encoding, a bare CR or LF) itself, in plain text, before the app sees it; async
endpoints persist that body to S3FailurePath, so it too must be the documented JSON. And
nothing in httptools bounds a request's head: a 64 MB header was buffered whole and reached
the app. Here the head is counted as it arrives and refused past `max_head_bytes`.
"""

from __future__ import annotations

import json
from typing import Any

_PHRASES = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}


def error_response(status: int, error: str, message: str, field: str | None = None) -> bytes:
    """A whole HTTP/1.1 response carrying the error body, closing the connection."""
    body = {"error": error, "message": message}
    if field:
        body["field"] = field
    payload = json.dumps(body).encode()
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % (status, _PHRASES[status], len(payload))
    )
    return head + payload


def _malformed(protocol: Any) -> None:
    protocol.transport.write(
        error_response(400, "invalid_http", "the request is not valid HTTP/1.1", "http")
    )
    protocol.transport.close()


def httptools_protocol(max_head_bytes: int) -> type:
    """uvicorn's httptools protocol, answering in JSON and refusing heads over the bound."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _in_head = False
        _head_bytes = 0

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._head_bytes = True, 0

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self._in_head or self.transport.is_closing():
                return
            # Counted per chunk: the parser holds at most the bound plus one read.
            self._head_bytes += len(data)
            if self._head_bytes > max_head_bytes:
                self.logger.warning("request head over %d bytes refused", max_head_bytes)
                message = f"request line and headers exceed {max_head_bytes} bytes"
                self.transport.write(error_response(431, "headers_too_large", message, "headers"))
                self.transport.close()

        def send_400_response(self, msg: str) -> None:
            _malformed(self)

    return BoundedHttpToolsProtocol


def h11_protocol(max_head_bytes: int) -> type:
    """The pure-Python fallback (no httptools): h11 bounds the head itself; JSON errors."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonH11Protocol(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            _malformed(self)

    return JsonH11Protocol


def protocol_class(max_head_bytes: int) -> type:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return h11_protocol(max_head_bytes)
    return httptools_protocol(max_head_bytes)
