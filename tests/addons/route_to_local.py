"""Test-only mitmproxy script: connect every upstream to the local test server.

The names the client asks for (ulogs.umeng.com…) stay in the request; only the TCP
destination changes, so the proxy sees exactly what a phone would send, and no packet
leaves loopback.
"""

import os

from mitmproxy.proxy import server_hooks

_TARGET = os.environ["CONSENTSCOPE_TEST_UPSTREAM"]
_HOST, _PORT = _TARGET.rsplit(":", 1)


def server_connect(data: server_hooks.ServerConnectionHookData) -> None:
    data.server.address = (_HOST, int(_PORT))
