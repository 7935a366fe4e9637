"""The HTTP API as any client sees it: the OpenAPI document describes the routes the server
answers, and every answer (success, error, health check) carries the security headers."""
import json
import urllib.error
import urllib.request

from test_login_interop import tls_context

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "strict-transport-security": "max-age=",
}


def get(r, path, token=None):
    req = urllib.request.Request(f"https://127.0.0.1:{r.http_port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, context=tls_context(), timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_openapi_document_and_security_headers_on_every_answer(rampart):
    rampart.start()
    status, headers, body = get(rampart, "/api/v1/openapi.json")
    assert status == 200
    doc = json.loads(body)
    assert doc["openapi"] == "3.1.0"
    assert "/api/v1/auth/login" in doc["paths"]
    assert doc["paths"]["/api/v1/archive/search"]["get"]["x-rampart-role"] == "auditor"

    # Every documented GET without a path parameter answers (never 404/405): the document
    # describes the server that is running.
    for path, ops in doc["paths"].items():
        if "get" in ops and "{" not in path:
            status, headers, _ = get(rampart, path)
            assert status in (200, 401), (path, status)
            for name, prefix in SECURITY_HEADERS.items():
                assert headers.get(name, "").startswith(prefix), (path, name, headers.get(name))

    status, headers, _ = get(rampart, "/no/such/route")
    assert status == 404
    assert headers.get("x-content-type-options") == "nosniff"
