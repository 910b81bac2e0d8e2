"""The client's own address behind the reverse proxies the admin trusts (server.trusted_proxies).

Every request through the shipped nginx snippets comes from loopback, so the peer's address alone
names the proxy, never the client. A trusted proxy appends the address it was reached from to
X-Forwarded-For; reading that header from the right and skipping trusted hops finds the first
address no trusted proxy stands for: the client. The entries left of it are whatever the client
chose to send, and a peer that is not a trusted proxy is the client whatever its headers say.
"""
import ipaddress


class ProxySettingError(ValueError):
    "server.trusted_proxies names something that is not an address or a network"


def trusted_networks(setting):
    """The networks of server.trusted_proxies: comma-separated addresses or CIDR networks."""
    networks = []
    for part in setting.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ProxySettingError(f"server.trusted_proxies: {part!r} is not an address or a network "
                                    "(127.0.0.1, ::1, 10.0.0.0/8)") from None
    return tuple(networks)


def parse_address(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def is_trusted(address, networks):
    return address is not None and any(address in network for network in networks)


def client_address(peer, forwarded_for, networks):
    """The client's address: the peer's, unless the peer is a trusted proxy and X-Forwarded-For
    (forwarded_for: the header's values in order) names hops beyond it."""
    hop = parse_address(peer or "")
    if not is_trusted(hop, networks):
        return peer or ""
    for entry in reversed(",".join(forwarded_for).split(",")):
        if not entry.strip():
            continue
        address = parse_address(entry)
        if address is None:
            # A trusted proxy writes addresses; anything else came from beyond it, so the last
            # trusted hop's own view is the best there is.
            return str(hop)
        hop = address
        if not is_trusted(address, networks):
            return str(address)
    return str(hop)
