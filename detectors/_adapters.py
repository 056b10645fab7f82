"""SDK wire-format adapters: a few lines of data say how one SDK packs its uploads.

Some SDKs wrap their payload in a step no sniff can recognise: a byte-wise XOR with a key
the request itself carries, a compression without a magic number, one form field that
holds the batch, coordinates as protobuf doubles. An ``Adapter`` names the requests it
applies to (host and path globs, header, query or form values) and the steps that undo
the wrapping, outermost first; what the steps uncover goes back to the walker, which
decodes the rest (protobuf, JSON…) as for any body. The first adapter that matches a
request is used; a request none matches, or whose steps fail (the failure is named
``adapter-failed:<name>``), is decoded as it is.

Findings read through an adapter name it first in their encoding chain:
``("adapter:growingio", "xor", "snappy", "protobuf")``. A new SDK format is one entry
below, with the source it was read from, plus at most one small step module
(``_step_snappy``, ``_step_lz4``, ``_step_pbdouble``) and its line in ``apply``.

Conditions (``Adapter.when``, all must hold): ``(name, value)`` where ``name`` is a header
name, ``query:<name>`` or ``form:<name>`` (a field of a url-encoded body as captured,
before any Content-Encoding, looked for only when the Content-Type is absent or a
form's); ``value`` is one glob or several separated by ``|`` (``*``: present, any value;
``9|13``; ``application/octet-stream;tt-data=*``).

Steps (``Adapter.steps``; none when the decoders read the format unaided and the adapter
only names it):

* ``xor:<key>``: XOR with the key's bytes, repeated; ``xor-int8:<key>``: XOR with one
  byte, the key read as an integer modulo 256 (a millisecond timestamp's low byte);
  keys: ``header:<Name>``, ``query:<name>``, ``hex:<bytes>``, ``text:<string>``;
* ``form:<field>``: the value of one field of a url-encoded body, percent-decoded (a
  ``+`` is kept: base64 values are sent with it unescaped);
* ``snappy`` (the raw block format, ``_step_snappy``), ``lz4`` (a bare LZ4 block,
  ``_step_lz4``), ``gzip``, ``zlib``, ``deflate``, ``base64``, ``hex``: decodings bounded like
  every other;
* ``protobuf-doubles``: no change to the data; its protobuf doubles of a coordinate's
  size are emitted as decimal text (``_step_pbdouble``), for SDKs whose schema sends the
  location so;
* ``sdk-encrypted``, ``sdk-encrypted:<text>`` (when the data holds ``text``): no change
  to the data; what it carries is the SDK's own ciphertext (an RSA- or SM2-wrapped AES/SM4
  key and payloads nobody outside the vendor can open), so the request is named
  ``sdk-encrypted:<name>`` (a request anomaly, counted per session in the JSON output)
  and its envelope, and any event left in clear beside it, decoded as usual.

Each shipped entry below cites the vendor's own code it was read from (repository, path,
commit); the tests build their payloads as that code does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import translate
from functools import lru_cache
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from . import _compress as _z
from ._record import RequestRecord
from ._sniff import unquote
from ._step_lz4 import unlz4
from ._step_pbdouble import doubles
from ._step_snappy import unsnappy

if TYPE_CHECKING:
    from ._decode import _Walker

_KEY_SOURCES: Final = frozenset({"header", "query", "hex", "text"})
_PLAIN_STEPS: Final = frozenset(
    {"snappy", "lz4", "gzip", "zlib", "deflate", "base64", "hex", "protobuf-doubles", "sdk-encrypted"}
)
_WBITS: Final = {"gzip": 31, "zlib": 15, "deflate": -15}


@dataclass(frozen=True, slots=True)
class Adapter:
    """Which requests an SDK sends (globs, case-insensitive host), what marks its packing
    (``when``), the steps that undo it (module docstring), and where that was read
    (``source``: repository, path and commit, or the vendor's documentation)."""

    name: str
    steps: tuple[str, ...]
    host: str = "*"
    path: str = "*"
    when: tuple[tuple[str, str], ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        for step in self.steps:
            kind, _, key = step.partition(":")
            if kind in ("xor", "xor-int8"):
                source, _, name = key.partition(":")
                if source not in _KEY_SOURCES or not name:
                    raise ValueError(f"adapter {self.name}: unknown key source in {step!r}")
                if source == "hex":
                    bytes.fromhex(name)  # ValueError when it is no hex
            elif kind == "form":
                if not key:
                    raise ValueError(f"adapter {self.name}: {step!r} names no field")
            elif kind not in _PLAIN_STEPS or (key and kind != "sdk-encrypted"):
                raise ValueError(f"adapter {self.name}: unknown step {step!r}")
        for name, value in self.when:
            if not name or not value or (name.partition(":")[0] in ("query", "form") and not name.partition(":")[2]):
                raise ValueError(f"adapter {self.name}: bad condition {(name, value)!r}")

    def matches(self, record: RequestRecord) -> bool:
        return _compiled(self).test(record, _first_headers(record))


class _Conditions:
    """An adapter's conditions compiled once (globs to regexes), tested cheapest first:
    headers by one dict lookup each, then host and path, then the query and the form,
    which parse. All must hold, so the order changes no answer; on a request no adapter
    fits (most), the first missing header ends the test. Testing the shipped list on each
    request with ``fnmatchcase`` per condition was 6-8 % of detection."""

    __slots__ = ("adapter", "form", "gate", "headers", "host", "path", "query")

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.host = None if adapter.host == "*" else _glob(adapter.host.lower())
        self.path = None if adapter.path == "*" else _glob(adapter.path)
        headers, query, form = [], [], []
        for name, value in adapter.when:
            kind, _, field = name.partition(":")
            accept = None if value == "*" else _glob(*value.split("|"))
            if kind == "query":
                query.append((field, accept))
            elif kind == "form":
                form.append((field, accept))
            else:
                headers.append((name.lower(), accept))
        self.headers = tuple(headers)
        self.query = tuple(query)
        self.form = tuple(form)
        #: a header the request must have: ``first_match`` looks it up before any call
        self.gate = headers[0][0] if headers else None

    def test(self, record: RequestRecord, headers: dict[str, str]) -> bool:
        for name, accept in self.headers:
            got = headers.get(name)
            if got is None or (accept is not None and accept(got) is None):
                return False
        if self.host is not None and self.host(record.host.lower()) is None:
            return False
        if self.path is not None and self.path(record.path.partition("?")[0]) is None:
            return False
        for name, accept in self.query:
            got = _query(record, name)
            if got is None or (accept is not None and accept(got) is None):
                return False
        if self.form:
            ctype = headers.get("content-type")
            if ctype is not None and "form-urlencoded" not in ctype.lower():
                return False
            for name, accept in self.form:
                raw = form_value(record.body, name)
                if raw is None or (accept is not None and accept(raw.decode("utf-8", "replace")) is None):
                    return False
        return True


def _glob(*alternatives: str) -> Callable[[str], re.Match[str] | None]:
    """One regex matching what ``fnmatchcase`` matches with any of the globs."""
    return re.compile("|".join(translate(a) for a in alternatives)).match


@lru_cache(maxsize=256)
def _compiled(adapter: Adapter) -> _Conditions:
    return _Conditions(adapter)


def _first_headers(record: RequestRecord) -> dict[str, str]:
    """Each header name, lower-cased, to its first value (``RequestRecord.header``)."""
    return {k.lower(): v for k, v in reversed(record.headers)}


#: compiled adapter lists by identity (a scanner passes the same tuple for every request)
_LISTS: dict[int, tuple[Sequence[Adapter], tuple[_Conditions, ...]]] = {}


def first_match(
    adapters: Sequence[Adapter], record: RequestRecord, headers: dict[str, str] | None = None
) -> Adapter | None:
    """The first of ``adapters`` that matches ``record`` (``Adapter.matches``), or None.
    ``headers``: the record's first value of each lower-cased header name, when the
    caller has them. An adapter that needs a header the request lacks, or a form the
    Content-Type rules out, costs one lookup."""
    if not adapters:
        return None
    entry = _LISTS.get(id(adapters))
    if entry is None or entry[0] is not adapters:
        entry = (adapters, tuple(map(_compiled, adapters)))
        if type(adapters) is tuple:  # immutable: the compiled list stays true
            if len(_LISTS) >= 64:
                _LISTS.clear()
            _LISTS[id(adapters)] = entry
    if headers is None:
        headers = _first_headers(record)
    formish = None
    for cond in entry[1]:
        if cond.gate is not None and cond.gate not in headers:
            continue
        if cond.form:
            if formish is None:
                ctype = headers.get("content-type")
                formish = ctype is None or "form-urlencoded" in ctype.lower()
            if not formish:
                continue
        if cond.test(record, headers):
            return cond.adapter
    return None


def _query(record: RequestRecord, name: str) -> str | None:
    for k, v in parse_qsl(record.path.partition("?")[2], keep_blank_values=True):
        if k == name:
            return v
    return None


def form_value(body: bytes, name: str) -> bytes | None:
    """The first value of field ``name`` in a url-encoded ``body``, percent-decoded (``+``
    kept; ``_sniff.unquote``: as ``unquote_to_bytes``, in C), or None; one linear search,
    whatever the body."""
    key = name.encode() + b"="
    at = body.find(key)
    while at > 0 and body[at - 1] != 0x26:  # not after "&": inside another field
        at = body.find(key, at + 1)
    if at < 0:
        return None
    start = at + len(key)
    end = body.find(b"&", start)
    return unquote(body[start:] if end < 0 else body[start:end])


def _key(record: RequestRecord, source: str) -> bytes | None:
    kind, _, name = source.partition(":")
    if kind == "header":
        value = record.header(name)
        return None if value is None else value.encode()
    if kind == "query":
        got = _query(record, name)
        return None if got is None else got.encode()
    if kind == "hex":
        return bytes.fromhex(name)
    return name.encode()  # text


def _xor(data: bytes, key: bytes) -> bytes:
    if len(key) == 1:
        return data.translate(bytes(b ^ key[0] for b in range(256)))
    reps = key * (len(data) // len(key) + 1)
    return (int.from_bytes(data, "big") ^ int.from_bytes(reps[: len(data)], "big")).to_bytes(len(data), "big")


def apply(adapter: Adapter, w: _Walker, record: RequestRecord, body: bytes) -> tuple[bytes, tuple[str, ...]] | None:
    """``body`` with the adapter's steps undone, and the chain it was read through (the
    adapter's name first); None when a step fails (named as an anomaly by the caller)."""
    data = body
    chain: list[str] = [f"adapter:{adapter.name}"]
    for step in adapter.steps:
        kind, _, source = step.partition(":")
        out: bytes | None
        if kind in ("xor", "xor-int8"):
            key = _key(record, source)
            if not key:
                return None
            if kind == "xor-int8":
                try:
                    key = bytes([int(key) % 256])
                except ValueError:
                    return None
            out = _xor(data, key)
            kind = "xor"
        elif kind == "form":
            out = form_value(data, source)
        elif kind == "protobuf-doubles":
            doubles(w, data, "body", tuple(chain))
            continue
        elif kind == "sdk-encrypted":
            if not source or source.encode() in data:
                w.anomaly(f"sdk-encrypted:{adapter.name}")
            continue
        elif kind == "snappy":
            out = unsnappy(data, w.cap(len(data)), w.limits.max_block_ops)
        elif kind == "lz4":
            out = unlz4(data, w.cap(len(data)), w.limits.max_block_ops)
        elif kind in _WBITS:
            inflated, status = _z.inflate(data, _WBITS[kind], w.cap(len(data)))
            out = inflated if status == _z.OK else None
        else:
            try:
                out = base64.b64decode(data, validate=False) if kind == "base64" else bytes.fromhex(data.decode())
            except (ValueError, binascii.Error, UnicodeDecodeError):
                out = None
        if not out:
            return None
        data = out
        chain.append(kind)
    return data, tuple(chain)


#: GrowingIO's SDKs (Android autotracker, the older Android SaaS SDK, Go):
#: ``Snappy.compress`` (raw block) with ``X-Compress-Codec: 2``, then every byte XORed with
#: the send time's low byte (``currentTimeMillis & 0xFF``) with ``X-Crypt-Codec: 1``; the
#: same milliseconds go in the URL as ``?stm=`` (the Go SDK also sends them as
#: ``X-Timestamp``). The body is an ``EventV3List``, whose ``EventV3Dto`` sends ``double
#: latitude = 44; double longitude = 45`` next to ``imei = 46``, ``android_id = 47``,
#: ``oaid = 48`` (the SaaS SDK: a JSON array). Collector hosts are per deployment, so the
#: headers decide, not the host.
GROWINGIO: Final = Adapter(
    name="growingio",
    steps=("xor-int8:query:stm", "snappy", "protobuf-doubles"),
    when=(("X-Crypt-Codec", "1"), ("X-Compress-Codec", "2")),
    source="github.com/growingio/growingio-sdk-android-autotracker@90d1376dace107ffa2b02fa74f6a61983538878d "
           "growingio-data/encoder/src/main/java/com/growingio/android/encoder/EncoderDataFetcher.java, "
           "growingio-tracker-core/src/main/java/com/growingio/android/sdk/track/middleware/EventHttpSender.java, "
           "growingio-data/protobuf/src/main/proto/event_v3.proto; "
           "github.com/growingio/growingio-sdk-go@6467ada31606fe563006f51bd7fdad4699886854 "
           "internal/core/request_pipe.go, internal/core/request.go; "
           "github.com/growingio/growingio-sdk-android-saas@6df3c935028575a54b3db008986cd6adc6f2bba1 "
           "vds-subscriber-data/src/main/java/com/growingio/android/sdk/data/db/MessageUploader.java (a JSON array)",
)

_GROWINGIO_IOS: Final = (
    "github.com/growingio/growingio-sdk-ios-autotracker@6b7a90def6b5fe69100f7c905e1b074ad547d420 "
    "Modules/DefaultServices/GrowingEventRequestCompressionAdapter.m (priority 10), "
    "Modules/DefaultServices/GrowingEventRequestEncryptionAdapter.m (priority 20), "
    "Services/Compression/GrowingDataCompression.m, Services/Encryption/GrowingDataEncoder.m, "
    "GrowingTrackerCore/Network/Request/GrowingEventRequest.m (query stm), "
    "Services/Network/GrowingNetworkManager.m (adapters in ascending priority)"
)

#: GrowingIO's iOS SDK: ``GROW_LZ4_compress`` (a bare LZ4 block) with ``X-Compress-Codec: 3``
#: when ``compressEnabled``, then, when ``encryptEnabled``, every byte XORed with
#: ``stm & 0xFF`` with ``X-Crypt-Codec: 1``; ``?stm=`` in the URL as on Android. Each
#: half is configurable: one entry per combination, the fullest first.
GROWINGIO_IOS: Final = Adapter(
    name="growingio-ios",
    steps=("xor-int8:query:stm", "lz4", "protobuf-doubles"),
    when=(("X-Crypt-Codec", "1"), ("X-Compress-Codec", "3")),
    source=_GROWINGIO_IOS,
)
GROWINGIO_IOS_LZ4: Final = Adapter(
    name="growingio-ios-lz4",
    steps=("lz4", "protobuf-doubles"),
    when=(("X-Compress-Codec", "3"),),
    source=_GROWINGIO_IOS,
)
GROWINGIO_XOR: Final = Adapter(
    name="growingio-xor",
    steps=("xor-int8:query:stm", "protobuf-doubles"),
    when=(("X-Crypt-Codec", "1"),),
    source=_GROWINGIO_IOS,
)

#: Sensors Data's Android SDK, encrypted modes: ``gzip=9`` (event encryption) or ``13``
#: (transport encryption) and ``data_list`` the JSON array ``[{"ekey": <the AES/SM4 key
#: under the project's RSA/SM2 public key>, "pkv": <key version>, "payloads": [<base64
#: ciphertext of gzip of each event>], "flush_time": …}]``, not gzipped. Named, not read.
SENSORSDATA_ENCRYPTED: Final = Adapter(
    name="sensorsdata-encrypted",
    steps=("sdk-encrypted",),
    when=(("form:gzip", "9|13"), ("form:data_list", "*")),
    source="github.com/sensorsdata/sa-sdk-android@82b48007b69980691a0ceb2ae21df2cea7160105 "
           "module_common/src/main/java/com/sensorsdata/analytics/android/sdk/data/adapter/EncryptDataOperation.java, "
           "TransportEncryption.java, DbParams.java; "
           "module_encrypt/src/main/java/com/sensorsdata/analytics/android/sdk/encrypt/biz/SAEventEncryptTools.java",
)

#: Sensors Data's Android and iOS SDKs: a url-encoded POST ``crc=<String.hashCode of data_list>&
#: gzip=1&data_list=<base64 of gzip of the JSON array of events>`` (``Uri.Builder``
#: escapes the base64), to the customer's own server URL (any host: the form decides).
#: No step: the decoders read the form, base64 and gzip themselves; the adapter names it.
SENSORSDATA: Final = Adapter(
    name="sensorsdata",
    steps=(),
    when=(("form:gzip", "1"), ("form:data_list", "*")),
    source="github.com/sensorsdata/sa-sdk-android@82b48007b69980691a0ceb2ae21df2cea7160105 "
           "module_common/src/main/java/com/sensorsdata/analytics/android/sdk/AnalyticsMessages.java "
           "(sendData, sendHttpRequest), .../sdk/util/SADataHelper.java (gzipData), "
           ".../sdk/data/adapter/DbParams.java (GZIP_DATA_EVENT); "
           "github.com/sensorsdata/sa-sdk-ios@6a6ea5b178fa366ba5c1c2c62a8c169b6f5c425a "
           "SensorsAnalyticsSDK/Core/Interceptor/Flush/SAFlushHTTPBodyInterceptor.m (gzip 1 or 9)",
)

#: ThinkingData's Android and iOS SDKs: ``POST <server>/sync`` with ``Content-Type: text/plain`` and
#: the body base64 of gzip of ``{"data": [events], "#app_id": …, "#flush_time": …}``,
#: headers ``TA-Integration-Type``/``-Version``/``-Count``/``-Extra``. With encryption on,
#: each event is ``{"ekey": …, "pkv": …, "payload": <ciphertext>}`` (named, not read);
#: ``TA-Datas-Type: 1`` says so only for events encrypted at flush, not at insert.
THINKINGDATA: Final = Adapter(
    name="thinkingdata",
    path="*/sync",
    steps=("base64", "gzip", 'sdk-encrypted:"ekey"'),
    when=(("TA-Integration-Type", "*"),),
    source="github.com/ThinkingDataAnalytics/android-sdk@f97b04828e64afa80253e237c27a8dd16fddcc70 "
           "thinkingsdk/src/main/java/cn/thinkingdata/analytics/utils/HttpService.java (performRequest, encodeData), "
           "thinkingsdk/src/main/java/cn/thinkingdata/analytics/data/DatabaseAdapter.java (generateDataString), "
           "thinkingsdk/src/main/java/cn/thinkingdata/analytics/TDConfig.java (\"/sync\"), "
           "thinkingsdk/src/main/java/cn/thinkingdata/analytics/encrypt/ThinkingDataEncrypt.java (encryptTrackData); "
           "github.com/ThinkingDataAnalytics/ios-sdk@e24b2d42b55c2b980c96e3f22b5576dd40443b50 "
           "ThinkingSDK/Source/Network/TDAnalyticsNetwork.m (flushEvents, buildRequestWithJSONString), "
           "ThinkingSDK/Source/Config/TDConfig.m (\"%@/sync\")",
)

#: Zhuge's Android SDK (诸葛io): a url-encoded POST ``method=event_statis_srv.upload&
#: compress=1&event=<base64 of zlib (``Deflater``) of the JSON batch>`` to
#: ``u.zhugeapi.com/apipool`` or a private deployment. No step: the decoders read it; the
#: adapter names it.
ZHUGEIO: Final = Adapter(
    name="zhugeio",
    steps=(),
    when=(("form:method", "event_statis_srv.upload"), ("form:compress", "1")),
    source="github.com/zhugesdk/zhugeio-sdk-android@b452e0458d0c12a0c922e3c8fa3e30f5fe58d5ca "
           "zhugeioanalytics/src/main/java/com/zhuge/analysis/stat/ZGCore.java (flush, uploadSDKData), "
           "zhugeioanalytics/src/main/java/com/zhuge/analysis/util/Utils.java (compress), "
           "zhugeioanalytics/src/main/java/com/zhuge/analysis/util/HttpServices.java (requestApi), "
           "zhugeioanalytics/src/main/java/com/zhuge/analysis/stat/ZGAppInfo.java (wrapDataWithString)",
)

#: ByteDance's AppLog (DataRangers; Volcengine's Android SDK) with ``setEncryptAndCompress``:
#: the body is the closed ``com.bytedance.applog.encryptor`` library's ciphertext of gzip
#: of the JSON, sent as ``Content-Type: application/octet-stream;tt-data=<encryptor type>``
#: (``a`` by default); the query's other parameters travel as ``tt_info``, URL-safe base64
#: of the same encryption. Named, not read.
BYTEDANCE_APPLOG: Final = Adapter(
    name="bytedance-applog",
    steps=("sdk-encrypted",),
    when=(("Content-Type", "application/octet-stream;tt-data=*"),),
    source="github.com/volcengine/datarangers-sdk-android@cb9cee9d7de93d97a258bb34e0575d71de8c5cc2 "
           "agent/src/main/java/com/bytedance/applog/util/EncryptUtils.java (transformStrToByte, encrypt, "
           "encryptUrl, putContentTypeHeader), agent/src/main/java/com/bytedance/applog/server/Api.java, "
           "agent/src/main/java/com/bytedance/applog/encryptor/IEncryptorType.java",
)

#: the adapters shipped, most specific first (the first that matches is used):
#: ``Scanner(..., adapters=BUILTIN_ADAPTERS)``
BUILTIN_ADAPTERS: Final = (
    GROWINGIO, GROWINGIO_IOS, GROWINGIO_IOS_LZ4, GROWINGIO_XOR, SENSORSDATA_ENCRYPTED, SENSORSDATA, THINKINGDATA,
    ZHUGEIO, BYTEDANCE_APPLOG,
)
