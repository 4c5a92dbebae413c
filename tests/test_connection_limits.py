"""The connection's limits: headers bounded in size, count and time, bodies in size and total
time (chunked ones too), connections in number; protocol errors answered in the family's wire."""
from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.conftest import start_server

JOB = "00000000-0000-4000-8000-000000000006"


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("limits"), "--header-timeout", "1", "--body-timeout", "1",
                          "--max-header-bytes", "8192", "--max-headers", "20", "--max-body", "4096",
                          "--max-connections", "8")
    yield server
    server.stop()


def connect(server) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def answer(sock) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def test_a_huge_header_is_431_in_the_family_wire(strict):
    with connect(strict) as sock:
        sock.sendall(b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 64 * 1024 + b"\r\n\r\n")
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    assert b"x-amzn-errortype: clientexception" in reply.lower()   # the Batch API's wire, from the path
    assert httpx.get(f"{strict.url}/_cancelgate/health").status_code == 200


def test_too_many_header_fields_is_431(strict):
    fields = b"".join(b"X-F%d: v\r\n" % n for n in range(40))
    with connect(strict) as sock:
        sock.sendall(b"GET /things HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 431") and b'"__type":"InvalidRequestException"' in reply


def test_headers_that_never_finish_are_408_after_the_header_timeout(strict):
    with connect(strict) as sock:
        sock.sendall(b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5


def test_a_trickled_body_is_cut_off_after_the_total_body_timeout(strict):
    body = json.dumps({"jobId": JOB, "reason": "trickle"}).encode()
    with connect(strict) as sock:
        sock.sendall(b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        sock.settimeout(0.3)
        reply = b""
        for byte in body:                          # one byte per 0.3 s: each read is quick
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            try:
                reply += sock.recv(65536)
            except socket.timeout:
                continue
            if reply:
                break
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert time.monotonic() - started < 4
    # no cancel was recorded: at the head of its queue the job starts
    moved = httpx.post(f"{strict.url}/_cancelgate/batch/queues/default/dispatch").json()
    assert moved == {"jobId": JOB, "status": "STARTING"}
    httpx.post(f"{strict.url}/_cancelgate/reset")


def chunked(body: bytes, size: int = 7) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def test_a_chunked_body_is_read_like_any_other(strict):
    body = json.dumps({"jobId": "00000000-0000-4000-8000-000000000001", "reason": "chunked"}).encode()
    with connect(strict) as sock:
        sock.sendall(b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(body))
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    job = httpx.post(f"{strict.url}/v1/describejobs",
                     json={"jobs": ["00000000-0000-4000-8000-000000000001"]}).json()["jobs"][0]
    assert job["status"] == "FAILED" and job["statusReason"] == "chunked"


def test_an_oversized_chunked_body_is_413(strict):
    body = json.dumps({"jobId": JOB, "reason": "x" * 5000}).encode()
    with connect(strict) as sock:
        sock.sendall(b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(body, 1000))
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413") and b"ClientException" in reply


def test_a_stalled_chunked_body_is_408(strict):
    with connect(strict) as sock:
        sock.sendall(b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"job\r\n")
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize("raw", [
    b"FOO /v1/canceljob HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/describejobs HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
])
def test_protocol_errors_are_answered_in_a_family_wire(strict, raw):
    with connect(strict) as sock:
        sock.sendall(raw)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"x-amzn-errortype: clientexception" in reply.lower() and b'"__type":"ClientException"' in reply
    assert b"Invalid HTTP request received." not in reply


def test_a_vault_protocol_error_is_a_vault_failure(strict):
    with connect(strict) as sock:
        sock.sendall(b"GET /api/v26.1/services/jobs/1 HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n")
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 200") and b'"responseStatus":"FAILURE"' in reply


def test_connections_beyond_the_limit_are_closed_and_the_server_goes_on(strict):
    held = [connect(strict) for _ in range(12)]
    try:
        time.sleep(0.5)
        closed = 0
        for sock in held:
            sock.settimeout(0.5)
            try:
                if sock.recv(1) == b"":
                    closed += 1
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed += 1
        assert closed >= 4      # 8 may be open at once: at least the last 4 were refused
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(f"{strict.url}/_cancelgate/health").status_code == 200


def test_a_slow_answer_on_a_kept_alive_connection_is_not_cut_off(strict):
    """The header deadline runs from the previous answer, not from the request: a handler slower
    than --header-timeout answers normally, and an idle connection is closed without a 408."""
    rule = {"match": {"operationId": "DescribeJobs"}, "latency": {"minMs": 1800, "maxMs": 1800}}
    httpx.put(f"{strict.url}/_cancelgate/faults", json={"rules": [rule]})
    try:
        body = json.dumps({"jobs": [JOB]}).encode()
        with connect(strict) as sock:
            sock.sendall(b"POST /v1/describejobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            first = sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200"), first[:200]
            rest = answer(sock)   # then idle: closed by the server, silently
        assert b"408" not in rest
    finally:
        httpx.delete(f"{strict.url}/_cancelgate/faults")
