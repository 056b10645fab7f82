"""Everything that differs between the mitmproxy versions we support (11.x and 12.x).

Kept in one module so the rest of the addon reads like plain mitmproxy code.
"""

from __future__ import annotations

from mitmproxy import ctx, http
from mitmproxy.version import VERSION

MITMPROXY_MAJOR = int(VERSION.split(".")[0])


def trigger_update(flow: http.HTTPFlow) -> None:
    """Tell mitmweb/console that a flow's mark or comment changed, so they redraw it."""
    from mitmproxy.hooks import UpdateHook

    master = getattr(ctx, "master", None)
    if master is not None:
        master.addons.trigger(UpdateHook([flow]))
