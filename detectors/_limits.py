"""Every bound the detectors enforce, in one place, with the reason for each.

Captured traffic is hostile: a 10 KB gzip bomb can expand to gigabytes, a JSON document can
nest a million levels, and base64 inside base64 can go on forever. Each limit below keeps
one request's work bounded; callers override them through ``Limits``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How many decoding steps may be stacked (base64 → gzip → json → base64 …). Real SDKs use
#: at most four or five; more is either an attack or noise.
MAX_DECODE_DEPTH = 8

#: Total bytes of decoded views produced for one request, summed over all views. Bounds
#: memory and scan time per request whatever the nesting.
MAX_DECODED_BYTES = 16 * 1024 * 1024

#: Bytes one decompression may produce. Larger outputs are cut here and flagged.
MAX_DECOMPRESSED_BYTES = 8 * 1024 * 1024

#: Largest output/input ratio accepted from one decompression; beyond it the stream is a
#: bomb, not an SDK payload (typical JSON compresses 5-20x).
MAX_COMPRESSION_RATIO = 200

#: Bytes of a request body that are scanned at all; the rest is ignored and the finding
#: says so. Large uploads are photos and videos, not identifiers.
MAX_BODY_SCAN_BYTES = 8 * 1024 * 1024

#: Bytes of a photo, video or audio body that are scanned: identifiers hide in metadata
#: near the start (EXIF), not in pixel data, and scanning megabytes of it costs as much as
#: thousands of API calls.
MAX_MEDIA_SCAN_BYTES = 64 * 1024

#: Nesting depth of JSON and protobuf structures that is walked.
MAX_STRUCTURE_DEPTH = 64

#: Number of views one request may produce (a JSON array of 100k strings).
MAX_VIEWS = 20_000

#: Shortest base64 / hex blob worth trying to decode; shorter ones are ordinary tokens.
MIN_BLOB_LEN = 16

#: Output any decompression may reach whatever the ratio: a 100-byte stream of 20 KB is
#: normal. Also what a zlib-looking blob may inflate to while being checked for a stream.
MIN_INFLATE_ALLOWANCE = 64 * 1024

#: Protobuf walk steps per request (each a few Python operations): a hostile binary body
#: nesting failed walks inside each other stops here, not after seconds.
MAX_PROTOBUF_STEPS = 200_000

#: Fields one protobuf message may hold before its walk gives up: the walk is a Python
#: loop, and a real message with more fields is a bulk upload (scanned as bytes instead).
#: Fixed-width fields count too, though they are not returned.
MAX_PROTOBUF_FIELDS = 10_000

#: Input bytes fed per step to a brotli binding without an output limit (brotli < 1.2):
#: one input byte can expand to about 1.3 MB, and 16-byte steps of a 512 MB bomb never
#: produced more than 32 MB at once (measured).
BROTLI_STEP = 16

#: Base64 characters decoded on each side of a base64-fragment hit to confirm it (at each
#: of the four alignments): 16 characters are 12 bytes, enough to see the whole value
#: around its fragment, and the work per hit stays constant whatever the blob's size.
BASE64_CONFIRM_MARGIN = 16

#: Coordinates sampled across a location's tolerance band when its anchors are built (at
#: compile time): 4000 steps of 0.005 degrees span 20 degrees, wider than any precision
#: a profile sets, so the anchor set and the automaton stay small for any ``precision_m``.
MAX_LOCATION_ANCHOR_STEPS = 4000


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound above, overridable per ``Scanner`` (``Limits(max_views=500)``); the
    module constants are the defaults and the reasons."""

    max_decode_depth: int = MAX_DECODE_DEPTH
    max_decoded_bytes: int = MAX_DECODED_BYTES
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES
    max_compression_ratio: int = MAX_COMPRESSION_RATIO
    max_body_scan_bytes: int = MAX_BODY_SCAN_BYTES
    max_media_scan_bytes: int = MAX_MEDIA_SCAN_BYTES
    max_structure_depth: int = MAX_STRUCTURE_DEPTH
    max_views: int = MAX_VIEWS
    min_blob_len: int = MIN_BLOB_LEN
    min_inflate_allowance: int = MIN_INFLATE_ALLOWANCE
    max_protobuf_steps: int = MAX_PROTOBUF_STEPS
    max_protobuf_fields: int = MAX_PROTOBUF_FIELDS
    brotli_step: int = BROTLI_STEP
    base64_confirm_margin: int = BASE64_CONFIRM_MARGIN
    max_location_anchor_steps: int = MAX_LOCATION_ANCHOR_STEPS


DEFAULT_LIMITS = Limits()

# --- reader limits (pcap/HAR) below ---
