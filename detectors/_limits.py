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
#: The young-generation GC threshold a process that scans should use (Python's default:
#: 700). Scanning allocates and frees containers by the thousand per request: at 700 the
#: collector ran every ~17 requests, walking what the older generations hold (the compiled
#: profile and tracker tables). Memory stays bounded: only cyclic garbage waits, for at
#: most this many container allocations. Used by replays, batch tasks and the live detector.
SCAN_GC_THRESHOLD = 20_000

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

#: Pattern candidates (tokens of digits and hex, '@' signs) validated per view when
#: pattern detection is on: a view of a million digits costs this many checks, not a
#: million; the rest of such a view is skipped and named (``pattern-candidates-limit``).
MAX_PATTERN_CANDIDATES = 5_000


#: Operations (literals and copies) one Snappy or LZ4 block may take to decode (adapter
#: steps, ``_step_snappy``, ``_step_lz4``): each is a Python step. A real encoder copies only
#: matches of 4 bytes or more, so it needs at most 2 operations per 5 bytes (a 1 MB SDK
#: batch: under 400,000; in practice far fewer, literals run long); a hostile block of
#: one-byte literals stops here (500,000 of them took 0.35 s, measured), not after one
#: step per byte of an 8 MB body.
MAX_BLOCK_OPS = 500_000

# --- reader limits (pcap/HAR) ---
# The capture readers (consentscope/readers/) keep their bounds here too, so one ``Limits``
# overrides every bound from file to finding. A capture is as hostile as the traffic in it:
# each bound below keeps memory or time per file bounded whatever the bytes say.

#: Bytes kept per TCP direction; a longer stream is scanned up to here (and flagged). An
#: HTTP/1 upload larger than this is media, not identifiers.
MAX_STREAM_BYTES = 16 * 1024 * 1024

#: Open TCP directions tracked at once; the least recently active is assembled early
#: beyond this (a phone keeps a few hundred open; scans open tens of thousands).
MAX_STREAMS = 20_000

#: Bytes held across ALL open TCP directions of one capture. MAX_STREAMS x MAX_STREAM_BYTES
#: alone would allow 320 GB; beyond this budget the least recently active streams are
#: assembled early, so memory stays near this figure whatever the capture holds.
MAX_OPEN_STREAM_BYTES = 256 * 1024 * 1024

#: IPv4/IPv6 datagrams awaiting fragments at once; the oldest is dropped beyond this.
MAX_FRAGMENTED = 1_000

#: Fragments held for one datagram: a 64 KiB datagram over a 576-byte-MTU link is 118
#: fragments; beyond this the datagram is dropped (reassembly sorts its pieces each time).
MAX_FRAGMENTS_PER_DATAGRAM = 128

#: A stream silent this long (capture time) is assembled: its connection is over.
IDLE_SECONDS = 120.0

#: Largest packet record (pcap) or block (pcapng) accepted: snap lengths top out at 256 KiB,
#: so a bigger length field is damage, and reading it would allocate that much.
MAX_PACKET_BYTES = 256 * 1024 * 1024

#: QUIC connections whose ClientHello is still being gathered from several Initials.
MAX_QUIC_CONNECTIONS = 5_000

#: QUIC connections remembered as named, so a retransmitted Initial is not a second
#: contact; the oldest is forgotten beyond this (an ID is ~20 bytes).
MAX_QUIC_NAMED = 100_000

#: QUIC connections decrypted at once (a key log has their secrets); beyond this the least
#: recently active is finished early: its requests so far become records.
MAX_QUIC_DECRYPTING = 2_000

#: Client STREAM bytes kept per QUIC stream (one HTTP/3 request with its body, or the
#: QPACK encoder stream); the rest is cut and the record says its body was truncated.
MAX_QUIC_STREAM_BYTES = 16 * 1024 * 1024

#: Client STREAM bytes kept per QUIC connection, all streams together.
MAX_QUIC_CONNECTION_BYTES = 64 * 1024 * 1024

#: Client-initiated streams tracked per QUIC connection (a browser opens hundreds).
MAX_QUIC_STREAMS = 10_000

#: QPACK dynamic table entries kept per QUIC connection: every insert is kept, so
#: references resolve whatever the table evicted since (a browser inserts a few hundred).
MAX_QPACK_ENTRIES = 10_000

#: Bytes of QPACK names and values kept per QUIC connection (32 more per entry, as the
#: table counts them); inserts beyond it are unknown and their references incomplete.
MAX_QPACK_TABLE_BYTES = 4 * 1024 * 1024

#: IP addresses remembered with the name a DNS answer gave them (a host for plain HTTP
#: without a Host header); the oldest is forgotten beyond this.
MAX_DNS_NAMES = 100_000

#: Largest HAR entry (one request with its response, as JSON text) parsed. HAR inlines
#: whole responses, so real entries reach tens of MB; a larger one is skipped and named.
#: The document itself has no size limit: it is read entry by entry.
MAX_HAR_ENTRY_BYTES = 256 * 1024 * 1024

#: JSON nesting depth accepted in a HAR file (a browser's entry nests 5-6 levels);
#: checked before an entry is parsed, so the parser never recurses deeply.
MAX_HAR_DEPTH = 64

#: Characters of one JSON number in a HAR file (timings and sizes have at most ~20);
#: checked before parsing, so no huge integer is ever converted.
MAX_JSON_NUMBER_CHARS = 100


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
    max_pattern_candidates: int = MAX_PATTERN_CANDIDATES
    max_block_ops: int = MAX_BLOCK_OPS
    max_stream_bytes: int = MAX_STREAM_BYTES
    max_streams: int = MAX_STREAMS
    max_open_stream_bytes: int = MAX_OPEN_STREAM_BYTES
    max_fragmented: int = MAX_FRAGMENTED
    max_fragments_per_datagram: int = MAX_FRAGMENTS_PER_DATAGRAM
    idle_seconds: float = IDLE_SECONDS
    max_packet_bytes: int = MAX_PACKET_BYTES
    max_quic_connections: int = MAX_QUIC_CONNECTIONS
    max_quic_named: int = MAX_QUIC_NAMED
    max_quic_decrypting: int = MAX_QUIC_DECRYPTING
    max_quic_stream_bytes: int = MAX_QUIC_STREAM_BYTES
    max_quic_connection_bytes: int = MAX_QUIC_CONNECTION_BYTES
    max_quic_streams: int = MAX_QUIC_STREAMS
    max_qpack_entries: int = MAX_QPACK_ENTRIES
    max_qpack_table_bytes: int = MAX_QPACK_TABLE_BYTES
    max_dns_names: int = MAX_DNS_NAMES
    max_har_entry_bytes: int = MAX_HAR_ENTRY_BYTES
    max_har_depth: int = MAX_HAR_DEPTH
    max_json_number_chars: int = MAX_JSON_NUMBER_CHARS


DEFAULT_LIMITS = Limits()
