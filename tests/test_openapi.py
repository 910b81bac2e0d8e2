"""The OpenAPI document describes exactly the routes the sidecar serves."""
import re

from sidecar.openapi import document


def served_operations(app):
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        operations.update((path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"})
    return operations


def documented_operations():
    return {(path, method) for path, item in document("test")["paths"].items() for method in item}


def test_every_route_is_documented_and_nothing_else(app):
    served, documented = served_operations(app), documented_operations()
    assert served - documented == set(), "routes missing from sidecar/openapi.py"
    assert documented - served == set(), "documented routes the sidecar does not serve"


def test_document_is_served_signed(api, client):
    assert client.get("/api/v1/openapi.json").status_code == 401
    body = api.get("/api/v1/openapi.json").json
    assert body["openapi"].startswith("3.")
    assert "/api/v1/camshots" in body["paths"]


def test_path_parameters_are_declared():
    for path, item in document("test")["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        for method, op in item.items():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == names, f"{method.upper()} {path}"
