"""The HTTP/1.1 connection: uvicorn's httptools protocol with the limits httptools lacks, and its
protocol errors answered in the wire of the family that owns the path.

httptools sets no limit on headers (a 200 MiB header was read into memory) and uvicorn times out
only idle keep-alive connections, so a client that never finishes its headers held a file
descriptor forever. Here, per connection:
- the header block may hold `max_header_bytes` bytes and `max_headers` fields (431 beyond);
- it must arrive within `header_timeout` seconds of the connection or the previous answer (408);
- at most `max_connections` connections are open at once; one more is closed at once.
The request body's limits (size, total time, chunked bodies) are the shape step's, in pipeline.py.

A request that is not HTTP at all (method `FOO`, a Content-Length shorter than the body, whose
rest is then garbage) is answered in the wire of the path read so far, the IoT API's (which owns
`/`) when there is none, instead of uvicorn's plain-text 400.

Written against uvicorn 0.54's HttpToolsProtocol: `data_received`, `on_message_begin`, `on_url`,
`on_header`, `on_headers_complete`, `on_message_complete` and `send_400_response` are its hooks;
uvicorn takes the class with `http=` (an import string in worker mode).
"""
from __future__ import annotations

import re

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cancelgate.runtime import current

REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large",
           503: b"Service Unavailable"}


REQUEST_LINE = re.compile(rb"[A-Za-z]+ +(/[^ ?#\r\n]*)")


class _TooManyHeaders(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        runtime = current()
        self._wires = runtime.wires
        self._limits = runtime.limits
        self._header_bytes = 0
        self._header_count = 0
        self._in_headers = True
        self._header_timer = None
        self.url = b""
        self._start = b""           # the request line so far, for the path of an early refusal
        self._too_many = False
        self._too_big = False
        self._field_bytes = 0
        if len(self.connections) > self._limits.max_connections:
            self.logger.warning("refusing a connection: %d are open (--max-connections)", len(self.connections) - 1)
            transport.abort()
            return
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self._limits.header_timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # an answer is still being made; the timer starts again once it has gone
        if self._in_headers and not self.transport.is_closing():
            if self._header_bytes or self._header_count:
                self._refuse(408, f"request headers not received within {self._limits.header_timeout:g} s")
            else:
                self.transport.close()   # an idle connection: nothing to answer

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            if len(self._start) < 2048:
                self._start += data[:2048]
            self._header_bytes += len(data)
        super().data_received(data)
        # still inside the header block after all of it was read: that many bytes are headers
        # (a chunk that also completed them may hold body bytes, so only this case counts)
        if self._in_headers and self._header_bytes > self._limits.max_header_bytes \
                and not self.transport.is_closing():
            self._refuse(431, f"request headers are larger than {self._limits.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_count = 0
        self._field_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._field_bytes += len(name) + len(value)
        if self._field_bytes > self._limits.max_header_bytes:
            self._too_big = True
            raise _TooManyHeaders()
        if self._header_count > self._limits.max_headers:
            self._too_many = True
            raise _TooManyHeaders()   # stops the parser; uvicorn then calls send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # the next request on this connection gets its own header budget ...
        self._in_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._start = b""

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # ... and its own deadline, counted from the previous answer, however long that took
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc) -> None:
        if getattr(self, "_header_timer", None) is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if self._too_big:
            self._refuse(431, f"request headers are larger than {self._limits.max_header_bytes} bytes")
        elif self._too_many:
            self._refuse(431, f"a request may carry at most {self._limits.max_headers} header fields")
        else:
            self._refuse(400, "the request is not valid HTTP/1.1; the connection is closed")

    def _refuse(self, status: int, message: str) -> None:
        """Answer in the wire of the path read so far, then close: after a framing error
        nothing more on this connection can be trusted."""
        path = "/"
        found = REQUEST_LINE.match(self._start)
        if found:
            path = found.group(1).decode("latin-1")
        wire = self._wires.for_path(path)
        rendered = wire.render(wire.from_status(status, message))
        code = rendered.status_code    # Vault answers its failures with 200
        head = [b"HTTP/1.1 %d %s\r\n" % (code, REASONS.get(code, b"OK" if code == 200 else b"Error"))]
        head += [name + b": " + value + b"\r\n" for name, value in rendered.raw_headers
                 if name not in (b"content-length", b"connection")]
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(rendered.body))
        self.transport.write(b"".join(head) + rendered.body)
        self.transport.close()
