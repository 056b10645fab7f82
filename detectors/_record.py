"""The one plain request record every source (addon, flow file, HAR, pcap) produces.

Detectors see nothing else: no mitmproxy objects, no sockets, no files. Keeping the record
small and immutable lets the same request be scanned from any door with identical results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One outgoing request (or client WebSocket message) as it left the device.

    ``body`` is the payload as sent on the wire: still Content-Encoded, so a lying
    Content-Encoding header can be noticed. ``headers`` keeps order and duplicates.
    """

    flow_id: str
    time: float  # seconds since the epoch, UTC
    method: str
    scheme: str
    host: str  # as the client named it (Host / :authority / SNI), lower-case, no port
    port: int
    path: str  # path and query as sent, e.g. "/v1/log?x=1"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    sni: str | None = None
    server_ip: str | None = None
    body_truncated: bool = False  # the source kept only a prefix of the body
    kind: str = "http"  # "http" or "websocket"
    http_version: str = "HTTP/1.1"
    extra: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("RequestRecord needs a host")
        if self.host != self.host.lower():
            object.__setattr__(self, "host", self.host.lower())
        if not isinstance(self.body, bytes):
            raise TypeError("RequestRecord.body must be bytes")

    @property
    def url(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme)
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if self.port in (default, 0) else f"{host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitively."""
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None
