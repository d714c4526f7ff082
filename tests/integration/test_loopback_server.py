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
