"""The Sensors Data, ThinkingData, Zhuge and ByteDance AppLog adapters (``_adapters.py``), with payloads built as
each SDK's own code builds them.

Sensors Data: github.com/sensorsdata/sa-sdk-android at
82b48007b69980691a0ceb2ae21df2cea7160105.
``module_common/src/main/java/com/sensorsdata/analytics/android/sdk/AnalyticsMessages.java``
(``sendData``: ``data = SADataHelper.gzipData(rawMessage)`` when ``gzip`` is
``DbParams.GZIP_DATA_EVENT`` ("1"); ``sendHttpRequest``: a ``Uri.Builder`` with
``crc`` = ``String.valueOf(data.hashCode())``, ``gzip``, ``data_list``, written as the POST
body by ``HttpURLConnection``, whose default Content-Type is a form's);
``.../sdk/util/SADataHelper.java`` (``gzipData``: ``GZIPOutputStream`` then
``Base64Coder.encode``); encrypted modes in ``.../sdk/data/adapter/EncryptDataOperation.java``
(``gzip`` "9", ``data_list`` the JSON array of ``{"ekey", "pkv", "payloads", "flush_time"}``,
not gzipped), ``TransportEncryption.java`` ("13") and ``DbParams.java``. The iOS SDK
(github.com/sensorsdata/sa-sdk-ios at 6a6ea5b178fa366ba5c1c2c62a8c169b6f5c425a,
``SensorsAnalyticsSDK/Core/Interceptor/Flush/SAFlushHTTPBodyInterceptor.m``) builds the same
body with ``stringWithFormat:@"crc=%d&gzip=%d&data_list=%@"``, percent-encoding all but
alphanumerics.

ThinkingData: github.com/ThinkingDataAnalytics/android-sdk at
f97b04828e64afa80253e237c27a8dd16fddcc70.
``thinkingsdk/src/main/java/cn/thinkingdata/analytics/utils/HttpService.java``
(``performRequest``: ``Content-Type: text/plain`` and ``encodeData``: ``GZIPOutputStream``
then ``Base64Coder.encode``); ``.../analytics/data/DatabaseAdapter.java``
(``generateDataString``: ``{"data": [<events>],"#app_id":"…","#flush_time":…}`` by a
``StringBuilder``); ``.../analytics/data/DataHandle.java`` (``createExtraHeaders``:
``TA-Integration-Type``, ``-Version``, ``-Count``, ``-Extra``, ``TA-Datas-Type``);
``.../analytics/TDConfig.java`` (``serverUrl + "/sync"``);
``.../analytics/encrypt/ThinkingDataEncrypt.java`` (``encryptTrackData``: ``{"ekey", "pkv",
"payload"}``). The iOS SDK (github.com/ThinkingDataAnalytics/ios-sdk at
e24b2d42b55c2b980c96e3f22b5576dd40443b50, ``ThinkingSDK/Source/Network/TDAnalyticsNetwork.m``)
sends the same body (``td_gzipData`` then ``base64EncodedStringWithOptions:0``) and headers,
``TA-Integration-Extra: iOS``.

Zhuge: github.com/zhugesdk/zhugeio-sdk-android at b452e0458d0c12a0c922e3c8fa3e30f5fe58d5ca.
``zhugeioanalytics/src/main/java/com/zhuge/analysis/stat/ZGCore.java`` (the flush:
``Base64.encodeToString(Utils.compress(postData.toString().getBytes("UTF-8")),
Base64.DEFAULT)`` with ``\r`` and ``\n`` removed, in a ``HashMap`` of ``method``,
``compress`` and ``event``); ``.../util/Utils.java`` (``compress``: ``Deflater`` through a
``DeflaterOutputStream``, a zlib stream); ``.../util/HttpServices.java`` (``requestApi``: the
map's entries through ``Uri.Builder.appendQueryParameter`` as the POST body);
``.../stat/ZGAppInfo.java`` (``wrapDataWithString``: ``{"ak", "data", "debug", "sln", "sdk",
"owner", "pl", "sdkv", "tz", "usr"}``).

ByteDance AppLog: github.com/volcengine/datarangers-sdk-android at
cb9cee9d7de93d97a258bb34e0575d71de8c5cc2.
``agent/src/main/java/com/bytedance/applog/util/EncryptUtils.java`` (``transformStrToByte``:
``GZIPOutputStream`` then ``encrypt``, the closed ``com.bytedance.applog.encryptor.EncryptorUtil``;
``putContentTypeHeader``: ``application/octet-stream;tt-data=`` and the encryptor type, ``a``
by default in ``.../applog/encryptor/IEncryptorType.java``); ``.../applog/UriConfig.java``
(``PATH_SEND = "/service/2/app_log/"``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from urllib.parse import quote

import pytest

from consentscope.detectors import BUILTIN_ADAPTERS, Identifier, RequestRecord, Scanner, ScanProfile, decode_request
from consentscope.detectors._adapters import (
    BYTEDANCE_APPLOG,
    SENSORSDATA,
    SENSORSDATA_ENCRYPTED,
    THINKINGDATA,
    ZHUGEIO,
)

IMEI = "861234567890127"
ANDROID_ID = "9774d56d682e549c"
OAID = "1fd9a1f4-3e5b-4c2a-9d0e-7a6b5c4d3e2f"
PROFILE = ScanProfile(
    identifiers=(Identifier("imei", IMEI), Identifier("android_id", ANDROID_ID), Identifier("oaid", OAID))
)
FLUSH_MS = 1772445600123


def java_gzip(data: bytes) -> bytes:
    """``java.util.zip.GZIPOutputStream``: a 10-byte header with no time and OS 0, raw
    DEFLATE, CRC-32 and size."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    raw = c.compress(data) + c.flush()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00" + raw + struct.pack("<II", zlib.crc32(data), len(data))


def java_hash(s: str) -> int:
    """``String.hashCode``: over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    units = s.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def org_json(value: object) -> str:
    """``org.json``'s ``toString``: compact, ``/`` escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")


def uri_encode(s: str) -> str:
    """``android.net.Uri.encode``: all but letters, digits and ``_-!.~'()*``."""
    return quote(s, safe="_-!.~'()*")


def ciphertext(seed: str, n: int) -> str:
    """Deterministic stand-in for ciphertext, base64 as the SDKs send it."""
    out = b"".join(hashlib.sha256(f"{seed}{i}".encode()).digest() for i in range(n // 32 + 1))
    return base64.b64encode(out[:n]).decode()


# -- Sensors Data ----------------------------------------------------------------------


def sa_event(i: int) -> dict[str, object]:
    return {"_track_id": 1234567 + i, "time": FLUSH_MS - 5000 + i, "type": "track", "distinct_id": ANDROID_ID,
            "anonymous_id": ANDROID_ID, "event": "$AppStart", "_flush_time": FLUSH_MS,
            "properties": {"$os": "Android", "$model": "Pixel 7", "$device_id": ANDROID_ID, "$imei": IMEI,
                           "$oaid": OAID, "$screen_name": "com.example/.MainActivity"},
            "lib": {"$lib": "Android", "$lib_version": "6.8.0"}}  # fmt: skip


def sensorsdata_request(gzip: str, data: str, ios: bool = False) -> RequestRecord:
    escaped = quote(data, safe="") if ios else uri_encode(data)  # iOS: all but alphanumerics
    query = f"crc={java_hash(data)}&gzip={gzip}&data_list={escaped}"
    headers = (("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", "sensorsdata2015jssdkcross=x"))
    return RequestRecord("f1", 0.0, "POST", "https", "sa.example.com", 8106, "/sa?project=default", headers,
                         query.encode())  # fmt: skip


@pytest.mark.parametrize("ios", [False, True])
def test_sensorsdata_gzipped_batch(ios: bool) -> None:
    raw = org_json([sa_event(0), sa_event(1)])
    request = sensorsdata_request("1", base64.b64encode(java_gzip(raw.encode())).decode(), ios)
    assert SENSORSDATA.matches(request) and not SENSORSDATA_ENCRYPTED.matches(request)
    result = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request)
    chain = ("adapter:sensorsdata", "base64", "gzip", "json")
    got = sorted({(f.data_type, f.encoding, f.location) for f in result.findings})
    at = "body.form:data_list>json:$[1]"
    assert got[3:5] == [("android_id", chain, f"{at}.anonymous_id"), ("android_id", chain, f"{at}.distinct_id")]
    assert got[-4:] == [("imei", chain, "body.form:data_list>json:$[0].properties['$imei']"),
                        ("imei", chain, f"{at}.properties['$imei']"),
                        ("oaid", chain, "body.form:data_list>json:$[0].properties['$oaid']"),
                        ("oaid", chain, f"{at}.properties['$oaid']")]  # fmt: skip
    assert len(got) == 10
    generic = Scanner(PROFILE).scan(request).findings  # the same values without the adapter's name
    assert sorted((f.data_type, f.location) for f in generic) == sorted((f.data_type, f.location) for f in result.findings)
    assert result.readability == "readable" and not [a for a in result.anomalies if a.startswith(("adapter", "sdk"))]


def test_sensorsdata_encrypted_batch_is_named() -> None:
    envelope = [{"ekey": ciphertext("key", 256), "pkv": 2, "payloads": [ciphertext("e0", 400), ciphertext("e1", 416)],
                 "flush_time": FLUSH_MS}]  # fmt: skip
    for gzip in ("9", "13"):
        request = sensorsdata_request(gzip, org_json(envelope))
        assert SENSORSDATA_ENCRYPTED.matches(request) and not SENSORSDATA.matches(request)
        result = Scanner(PROFILE, patterns=True, adapters=BUILTIN_ADAPTERS).scan(request)
        assert "sdk-encrypted:sensorsdata-encrypted" in result.anomalies
        assert result.findings == () and result.readability == "opaque"


def test_a_plain_form_is_no_sensorsdata_upload() -> None:
    request = sensorsdata_request("0", org_json([sa_event(0)]))  # gzip=0: no adapter, decoded as any form
    assert not any(a.matches(request) for a in BUILTIN_ADAPTERS)
    found = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert found and not any(s.startswith("adapter:") for f in found for s in f.encoding)


# -- ThinkingData ----------------------------------------------------------------------


def td_event(i: int) -> str:
    return org_json({"#type": "track", "#time": f"2026-03-02 10:00:0{i}.123", "#distinct_id": ANDROID_ID,
                     "#event_name": "ta_app_start", "#uuid": f"5e0b7c1a-0c7e-4d3b-9a51-3f2d1c0b9a8{i}",
                     "properties": {"#device_id": ANDROID_ID, "#os": "Android", "imei": IMEI, "oaid": OAID,
                                    "#lib": "Android", "#lib_version": "3.0.2"}})  # fmt: skip


def td_encrypted(i: int) -> str:
    return org_json({"ekey": ciphertext(f"k{i}", 256), "pkv": 1, "payload": ciphertext(f"p{i}", 480)})


def thinkingdata_request(events: list[str], datas_type: str = "0", extra: str = "Android") -> RequestRecord:
    body = "{" + '"data": [' + ",".join(events) + "]," + '"#app_id":"' + "22e445595b0f42bd8c5fe35bc44b88d6" + '",' \
        + '"#flush_time":' + str(FLUSH_MS) + "}"  # fmt: skip
    headers = (("Content-Type", "text/plain"), ("TA-Integration-Type", "Android"),
               ("TA-Integration-Version", "3.0.2"), ("TA-Integration-Count", str(len(events))),
               ("TA-Integration-Extra", extra), ("TA-Datas-Type", datas_type))  # fmt: skip
    payload = base64.b64encode(java_gzip(body.encode())).decode().encode()
    return RequestRecord("f1", 0.0, "POST", "https", "receiver.ta.thinkingdata.cn", 443, "/sync", headers, payload)


@pytest.mark.parametrize("extra", ["Android", "iOS"])
def test_thinkingdata_batch(extra: str) -> None:
    request = thinkingdata_request([td_event(0), td_event(1)], extra=extra)
    result = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request)
    assert {f.data_type for f in result.findings} == {"android_id", "imei", "oaid"}
    assert {f.encoding for f in result.findings} == {("adapter:thinkingdata", "base64", "gzip", "json")}
    assert "body.json:$.data[1].properties.imei" in {f.location for f in result.findings}
    assert not [a for a in result.anomalies if a.startswith(("adapter", "sdk"))]


def test_thinkingdata_encrypted_events_are_named_whatever_the_header() -> None:
    for datas_type in ("0", "1"):  # events encrypted when stored leave the header at 0
        request = thinkingdata_request([td_encrypted(0), td_encrypted(1)], datas_type)
        result = Scanner(PROFILE, patterns=True, adapters=BUILTIN_ADAPTERS).scan(request)
        assert "sdk-encrypted:thinkingdata" in result.anomalies
        assert result.findings == () and result.readability == "opaque"


def test_thinkingdata_clear_events_beside_encrypted_ones_are_read() -> None:
    request = thinkingdata_request([td_encrypted(0), td_event(1)], "1")
    result = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request)
    assert "sdk-encrypted:thinkingdata" in result.anomalies
    assert {f.data_type for f in result.findings} == {"android_id", "imei", "oaid"}


def test_thinkingdata_debug_upload_is_not_adapted() -> None:
    """``/data_debug`` (debug mode) posts a plain form: no adapter applies."""
    request = thinkingdata_request([td_event(0)])
    debug = RequestRecord("f1", 0.0, "POST", "https", request.host, 443, "/data_debug", request.headers, b"a=1")
    assert THINKINGDATA.matches(request) and not THINKINGDATA.matches(debug)
    assert not decode_request(debug, adapters=BUILTIN_ADAPTERS).anomalies


# -- Zhuge -----------------------------------------------------------------------------


def test_zhugeio_batch() -> None:
    batch = org_json({"ak": "1b5c3e0f2d7a4c9e8f6b5a4d3c2b1a09", "debug": 0, "sln": "itn", "sdk": "zg_android",
                      "owner": "zg", "pl": "and", "sdkv": "3.4.2", "tz": 28800000,
                      "usr": {"did": ANDROID_ID},
                      "data": [{"dt": "evt", "pr": {"$eid": "open", "$imei": IMEI, "$oaid": OAID}}]})  # fmt: skip
    event = base64.encodebytes(zlib.compress(batch.encode())).decode().replace("\r", "").replace("\n", "")
    params = {"method": "event_statis_srv.upload", "compress": "1", "event": event}
    body = "&".join(f"{k}={uri_encode(v)}" for k, v in sorted(params.items())).encode()  # HashMap: any order
    headers = (("Content-Type", "application/x-www-form-urlencoded"),)
    request = RequestRecord("f1", 0.0, "POST", "https", "u.zhugeapi.com", 443, "/apipool", headers, body)
    assert next(a for a in BUILTIN_ADAPTERS if a.matches(request)) is ZHUGEIO
    found = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert sorted((f.data_type, f.location) for f in found) == [
        ("android_id", "body.form:event>json:$.usr.did"),
        ("imei", "body.form:event>json:$.data[0].pr['$imei']"),
        ("oaid", "body.form:event>json:$.data[0].pr['$oaid']"),
    ]
    assert {f.encoding for f in found} == {("adapter:zhugeio", "base64", "zlib", "json")}


# -- ByteDance AppLog ------------------------------------------------------------------


@pytest.mark.parametrize("encryptor", ["a", "custom-sm4"])
def test_bytedance_applog_encrypted_upload_is_named(encryptor: str) -> None:
    # the library's ciphertext of gzip(JSON): a stand-in, since the encryptor is closed
    body = base64.b64decode(ciphertext("applog", 900))
    headers = (("Content-Type", f"application/octet-stream;tt-data={encryptor}"),)
    path = "/service/2/app_log/?aid=10000001&device_platform=android&iid=0&version_code=100"
    request = RequestRecord("f1", 0.0, "POST", "https", "log.snssdk.com", 443, path, headers, body)
    assert next(a for a in BUILTIN_ADAPTERS if a.matches(request)) is BYTEDANCE_APPLOG
    result = Scanner(PROFILE, patterns=True, adapters=BUILTIN_ADAPTERS).scan(request)
    assert "sdk-encrypted:bytedance-applog" in result.anomalies
    assert result.findings == () and result.readability == "opaque"


def test_bytedance_applog_in_clear_is_no_adapter_s() -> None:
    """Without ``setEncryptAndCompress`` the SDK posts ``application/json; charset=utf-8``."""
    body = org_json({"header": {"device_id": "7123456789012345678", "openudid": ANDROID_ID}, "event_v3": []})
    headers = (("Content-Type", "application/json; charset=utf-8"),)
    request = RequestRecord("f1", 0.0, "POST", "https", "log.snssdk.com", 443, "/service/2/app_log/", headers,
                            body.encode())  # fmt: skip
    assert not any(a.matches(request) for a in BUILTIN_ADAPTERS)
    found = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert [(f.data_type, f.encoding) for f in found] == [("android_id", ("json",))]
