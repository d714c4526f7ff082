"""The loopback server (tools/loopback_server.py): a request over a real socket reaches
the app as the deployed gateway's proxy event, and the app's answer comes back whole."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice import Chalice, Response

from tools.loopback_server import serving

app = Chalice(app_name="loopback-test")
app.api.binary_types = ["application/pdf"]


@app.route("/v1/items/{item_id}", methods=["GET", "POST"], content_types=["application/json"])
def item(item_id: str) -> dict[str, Any]:
    request = app.current_request
    return {
        "item_id": item_id,
        "method": request.method,
        "query": request.query_params,
        "body": request.json_body,
        "header": request.headers.get("x-test"),
        "route": request.context["resourcePath"],
    }


@app.route("/v1/file")
def file() -> Response:
    return Response(
        body=b"%PDF-1.7 \x00\xff", headers={"Content-Type": "application/pdf"}, status_code=200
    )


@app.route("/v1/many")
def many() -> Response:
    return Response(body="", status_code=204, headers={"Vary": ["Origin", "Accept-Language"]})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(app) as bound:
        yield bound


def _request(
    port: int, method: str, path: str, body: bytes | None = None, **headers: str
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers)
    return connection.getresponse()


def test_a_request_reaches_its_route_with_parameters_query_headers_and_body(port: int) -> None:
    answer = _request(
        port,
        "POST",
        "/v1/items/it_1?x=1&x=2",
        json.dumps({"é": 1}).encode(),
        **{"Content-Type": "application/json", "X-Test": "yes"},
    )

    assert answer.status == 200
    assert json.loads(answer.read()) == {
        "item_id": "it_1",
        "method": "POST",
        "query": {"x": "2"},
        "body": {"é": 1},
        "header": "yes",
        "route": "/v1/items/{item_id}",
    }


def test_a_binary_answer_comes_back_as_bytes_and_several_values_as_several_headers(
    port: int,
) -> None:
    pdf = _request(port, "GET", "/v1/file", Accept="application/pdf")
    many = _request(port, "GET", "/v1/many")

    assert (pdf.status, pdf.getheader("Content-Type"), pdf.read()) == (
        200,
        "application/pdf",
        b"%PDF-1.7 \x00\xff",
    )
    assert many.status == 204
    assert many.headers.get_all("Vary") == ["Origin", "Accept-Language"]


def test_an_unknown_path_gets_the_deployed_gateways_404_problem(port: int) -> None:
    answer = _request(port, "GET", "/v1/nowhere")

    assert answer.status == 404
    assert answer.getheader("Content-Type") == "application/problem+json"
    assert json.loads(answer.read())["code"] == "not_found"
    assert answer.getheader("X-Request-Id")


def test_one_connection_carries_many_requests(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for n in range(3):
        connection.request("GET", f"/v1/items/it_{n}")
        answer = connection.getresponse()
        assert json.loads(answer.read())["item_id"] == f"it_{n}"
    connection.close()


def _exchange(port: int, data: bytes) -> bytes:
    """What the server writes back for `data` sent as is, until it closes or goes quiet."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.settimeout(1)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def test_a_request_that_is_not_http_gets_400_and_the_connection_closed(port: int) -> None:
    for bad in (
        b"HELLO\r\n\r\n",
        b"GET /v1/file SMTP/1\r\n\r\n",
        b"GET /v1/file HTTP/1.1\r\nNo colon\r\n\r\n",
        b"POST /v1/items/it_1 HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ):
        answer = _exchange(port, bad)
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
        assert b"Connection: close" in answer


def test_a_header_longer_than_64_kib_is_refused(port: int) -> None:
    answer = _exchange(port, b"GET /v1/file HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_keep_alive_until_the_client_says_close_and_head_has_no_body(port: int) -> None:
    requests = (
        b"HEAD /v1/file HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /v1/items/it_1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        b"GET /v1/items/it_2 HTTP/1.1\r\nHost: x\r\n\r\n"  # after close: never read
    )
    answer = _exchange(port, requests)

    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 ")  # the test app's routes take no HEAD
    assert b"Content-Length: " in head  # the length of the body a GET would get, ...
    assert rest.startswith(b"HTTP/1.1 200 OK")  # ... but not the body
    assert b'"item_id":"it_1"' in rest.replace(b" ", b"") and b"it_2" not in rest


def test_a_client_that_expects_100_continue_gets_it_before_the_answer(port: int) -> None:
    body = json.dumps({"a": 1}).encode()
    answer = _exchange(
        port,
        b"POST /v1/items/it_3 HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (len(body), body),
    )

    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"}")
