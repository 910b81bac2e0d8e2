"""The client's address behind trusted reverse proxies (server.trusted_proxies)."""
import pytest

from sidecar.config import ConfigError, load_config
from sidecar.proxies import client_address, trusted_networks

LOOPBACK = trusted_networks("127.0.0.1/8, ::1")


@pytest.mark.parametrize("peer, forwarded_for, expected", [
    # Straight from a client: its own address, whatever it claims to forward.
    ("203.0.113.7", [], "203.0.113.7"),
    ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),
    # Through the shipped nginx on loopback: the address nginx appended.
    ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
    # The client's own X-Forwarded-For stays left of the address nginx appended, and is not read.
    ("127.0.0.1", ["10.9.9.9, 203.0.113.7"], "203.0.113.7"),
    ("127.0.0.1", ["garbage, 203.0.113.7"], "203.0.113.7"),
    # Several headers read as one list, in order; trusted hops on the right are skipped.
    ("127.0.0.1", ["203.0.113.7", "127.0.0.5"], "203.0.113.7"),
    ("::1", ["2001:db8::5"], "2001:db8::5"),
    # A local client (no header, or only trusted hops): the last trusted hop.
    ("127.0.0.1", [], "127.0.0.1"),
    ("127.0.0.1", ["127.0.0.2"], "127.0.0.2"),
    # Something a proxy would never write: the proxy's own view.
    ("127.0.0.1", ["not-an-address"], "127.0.0.1"),
])
def test_client_address(peer, forwarded_for, expected):
    assert client_address(peer, forwarded_for, LOOPBACK) == expected


def test_a_network_of_proxies_is_skipped_hop_by_hop():
    networks = trusted_networks("127.0.0.1, 10.0.0.0/8")
    assert client_address("127.0.0.1", ["203.0.113.7, 10.1.2.3, 10.4.5.6"], networks) == "203.0.113.7"
    # No proxy trusted: the peer is the client.
    assert client_address("127.0.0.1", ["203.0.113.7"], trusted_networks("")) == "127.0.0.1"


def test_a_bad_trusted_proxy_is_refused_with_its_name():
    with pytest.raises(ConfigError, match="server.trusted_proxies: 'nginx.local' is not an address"):
        load_config(environ={}, overrides={"server.trusted_proxies": "127.0.0.1, nginx.local"})
