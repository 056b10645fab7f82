"""consentscope: find the personal data an app sends, to whom, disguised how, before or after consent."""

__version__ = "0.1.0"

#: Version of the JSON output format (bumped on every change of its keys).
JSON_FORMAT_VERSION = 8
