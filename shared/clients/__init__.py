"""Typed clients of the mesh's services, over one channel per peer (Peers).

Each client owns, for its peer: the deadline slice of every call, and the
translation of the peer's errors into what they mean to callers (None for a
missing lead, Unrouted, Refused); anything else is a PeerError. Retries are the
channel's, for the methods the peer's contract marks idempotent.
"""

from shared.clients.content import ContentClient, Refused
from shared.clients.coordinator import CoordinatorClient
from shared.clients.errors import PeerError
from shared.clients.ingest import IngestClient
from shared.clients.intelligence import IntelligenceClient
from shared.clients.peers import PEERS, Peers
from shared.clients.routing import Routed, RoutingClient, Unrouted

__all__ = [
    "PEERS",
    "ContentClient",
    "CoordinatorClient",
    "IngestClient",
    "IntelligenceClient",
    "PeerError",
    "Peers",
    "Refused",
    "Routed",
    "RoutingClient",
    "Unrouted",
]
