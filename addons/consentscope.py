"""mitmproxy script entry: ``mitmdump -s addons/consentscope.py --set consentscope_profile=P.toml``.

Also works with mitmweb and mitmproxy (console). Needs consentscope installed
(``pip install -e .`` or the wheel) in mitmproxy's Python.
"""

import os
import sys

# mitmproxy puts this file's folder first on sys.path while loading it, where this very
# file would shadow the consentscope package; look the package up without it.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if sys.modules.get("consentscope") is not None and not hasattr(sys.modules["consentscope"], "__path__"):
    del sys.modules["consentscope"]

from consentscope.addons.live import ConsentScope  # noqa: E402

addons = [ConsentScope()]
