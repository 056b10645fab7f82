"""Everything that differs between the mitmproxy versions we support (11.x and 12.x).

Kept in one module so the rest of the addon reads like plain mitmproxy code.
"""

from __future__ import annotations

from mitmproxy import ctx, http
from mitmproxy.version import VERSION

MITMPROXY_MAJOR = int(VERSION.split(".")[0])


def trigger_update(flows: list[http.HTTPFlow]) -> None:
    """Tell mitmweb/console that these flows' marks or comments changed, so they redraw them."""
    from mitmproxy.hooks import UpdateHook

    master = getattr(ctx, "master", None)
    if master is not None:
        master.addons.trigger(UpdateHook(flows))


def decide_next_layer(nextlayer: object) -> None:
    """Let mitmproxy's own next-layer addon decide now, so a script addon sees the decision.

    Scripts are loaded by ``ScriptLoader``, which comes before ``NextLayer`` in mitmproxy's
    default addon chain (11 and 12 alike), so a script's ``next_layer`` hook runs before the
    layer is chosen. ``NextLayer.next_layer`` leaves a layer that is already set alone, so
    asking it first changes nothing but the order."""
    master = getattr(ctx, "master", None)
    addon = master.addons.get("nextlayer") if master is not None else None
    if addon is not None and getattr(nextlayer, "layer", None) is None:
        addon.next_layer(nextlayer)
