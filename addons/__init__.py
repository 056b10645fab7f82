"""consentscope.addons."""
