"""sidecar/signing.py against every vector of tests/vectors/signing.json, which the PHP signer is tested against too."""
import base64
import hashlib
import json
from pathlib import Path

import pytest

from sidecar.signing import canonical_request, check_signature, make_token, read_token, sign

VECTORS = json.loads((Path(__file__).parent / "vectors" / "signing.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["signing"], ids=lambda v: v["name"])
def test_request_signature_matches_the_vector(vector):
    body = base64.b64decode(vector["body_base64"])
    method, path, timestamp, nonce = vector["method"], vector["path"], vector["timestamp"], vector["nonce"]
    site = vector.get("site", "")  # named by the plugin since sites are told apart; five lines without it
    assert hashlib.sha256(body).hexdigest() == vector["body_sha256"]
    assert canonical_request(method, path, timestamp, nonce, body, site) == vector["canonical"]
    assert sign(vector["secret"], method, path, timestamp, nonce, body, site) == vector["signature"]
    headers = {"X-Proctorpy-Timestamp": str(timestamp), "X-Proctorpy-Nonce": nonce,
               "X-Proctorpy-Signature": vector["signature"], **({"X-Proctorpy-Site": site} if site else {})}
    assert check_signature(vector["secret"], method, path, headers, body, timestamp, 300) == nonce


@pytest.mark.parametrize("vector", VECTORS["tokens"], ids=lambda v: v["name"])
def test_token_matches_the_vector(vector):
    assert json.loads(vector["payload_json"]) == vector["payload"]
    assert make_token(vector["secret"], vector["payload"]) == vector["token"]
    assert read_token(vector["secret"], vector["token"], vector["payload"]["exp"]) == vector["payload"]
