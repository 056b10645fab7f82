"""consentscope.reports."""
