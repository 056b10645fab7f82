"""Requests shaped as real SDK clients send them, for the detection benchmark.

``corpus.py`` builds a session's mix by size; this one builds the requests that matter
most to an audit and cost the most to decode: what analytics, ad, push, crash and
location SDKs upload, 1-3 KB each on the wire, in each SDK's own packaging (from their
open-source clients and documentation):

* Sensors Data (``sa-sdk-android``): a form ``crc=…&gzip=1&data_list=…`` whose
  ``data_list`` is base64 of gzip of a JSON array of events, url-encoded;
* Umeng: the body is base64 of gzip of a JSON envelope (``Msg-Type: envelope/json``);
* Firebase / app-measurement: a protobuf measurement batch (``/a``, nothing declared);
* AppsFlyer: a JSON event with dozens of device fields and sha1/sha256 fingerprints;
* JPush: a JSON registration report, the IMEI as upper-case sha1;
* Bugly: gzip of a protobuf crash record (``application/octet-stream``);
* Pangle (穿山甲): a JSON ad request with many fields, gzip with ``Content-Encoding``;
* GDT (广点通): a GET whose query holds ``muid`` (md5 of the upper-case MAC without
  colons) and a url-encoded JSON ``ext``;
* Baidu / AMap location: a GET with a long query (Wi-Fi scan list with BSSIDs, cell ids,
  coordinates);
* GrowingIO: a JSON array of events (v3 collect, uncompressed debug mode).

Every request carries one to four profile values (``corpus.VALUES``) in the form that SDK
uses (plain, md5, upper md5/sha1, sha256, base64, md5 of the upper MAC…), among ids,
counters and hex session ids that are not the profile's. Same ``n`` and ``seed``, same
records; ``generate_sdk_corpus(n)`` is a prefix of ``generate_sdk_corpus(m)`` for n < m.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from corpus import LATITUDE, LONGITUDE, SERVER_IPS, START, USER_AGENTS, VALUES

from consentscope.detectors import RequestRecord

SPACING_S = 0.05
MODELS = ["Redmi Note 11", "V2241A", "PGT-AN10", "SM-S9180", "M2012K11AC", "ALN-AL00"]
EVENTS = ["$AppStart", "$AppViewScreen", "$AppClick", "$AppEnd", "view_item", "add_to_cart", "search", "login"]
SCREENS = ["MainActivity", "HomeFragment", "ItemDetailActivity", "CartFragment", "SearchActivity"]
CARRIERS = ["中国移动", "中国联通", "中国电信"]

Built = tuple[str, str, str, list[tuple[str, str]], bytes]  # method, host, path, extra headers, body


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _sha1(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def _sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _gzip(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=6, mtime=0)


def _hexid(rng: random.Random, n: int = 32) -> str:
    return f"{rng.getrandbits(n * 4):0{n}x}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ts(rng: random.Random) -> int:
    return rng.randrange(1_772_000_000_000, 1_773_000_000_000)


def _pick(rng: random.Random, keys: list[str], lo: int = 1, hi: int = 3) -> list[str]:
    return rng.sample(keys, rng.randint(lo, min(hi, len(keys))))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


# ----------------------------------------------------------------------------- SDKs


def _sensors(rng: random.Random) -> Built:
    """Sensors Data: ``data_list`` = base64(gzip(JSON array)), url-encoded in a form."""
    planted = _pick(rng, ["android_id", "oaid", "imei", "mac"], 1, 3)
    distinct = VALUES["android_id"] if "android_id" in planted else _hexid(rng, 16)
    events = []
    for _ in range(rng.randint(2, 5)):
        props: dict[str, object] = {
            "$lib": "Android",
            "$lib_version": "6.6.8",
            "$manufacturer": "Xiaomi",
            "$model": rng.choice(MODELS),
            "$os": "Android",
            "$os_version": "12",
            "$screen_height": 2400,
            "$screen_width": 1080,
            "$wifi": True,
            "$network_type": "WIFI",
            "$carrier": rng.choice(CARRIERS),
            "$app_version": "3.2.0",
            "$app_id": "com.example.consentdemo",
            "$timezone_offset": -480,
            "$is_first_day": rng.random() < 0.2,
            "$device_id": distinct,
            "$screen_name": "com.example.consentdemo." + rng.choice(SCREENS),
            "$title": rng.choice(["首页", "商品详情", "购物车", "搜索"]),
            "event_duration": round(rng.random() * 30, 3),
        }
        identities = {"$identity_android_id": distinct}
        if "oaid" in planted:
            identities["$identity_oaid"] = VALUES["oaid"]
        if "imei" in planted:
            props["$imei_md5"] = _md5(VALUES["imei"])
        if "mac" in planted:
            props["$mac"] = VALUES["mac"]
        events.append(
            {
                "_track_id": rng.randint(-(2**31), 2**31),
                "time": _ts(rng),
                "type": "track",
                "distinct_id": distinct,
                "anonymous_id": distinct,
                "identities": identities,
                "lib": {"$lib": "Android", "$lib_version": "6.6.8", "$app_version": "3.2.0", "$lib_method": "code"},
                "event": rng.choice(EVENTS),
                "properties": props,
                "_flush_time": _ts(rng),
            }
        )
    data = base64.b64encode(_gzip(json.dumps(events, ensure_ascii=False).encode())).decode()
    body = urlencode({"crc": str(rng.randint(-(2**31), 2**31)), "gzip": "1", "data_list": data}).encode()
    return (
        "POST",
        "sdk.sensorsdata.cn",
        "/sa?project=default",
        [("Content-Type", "application/x-www-form-urlencoded")],
        body,
    )


def _umeng(rng: random.Random) -> Built:
    """Umeng: base64 of gzip of the JSON envelope, nothing in the headers says so."""
    planted = _pick(rng, ["imei", "android_id", "mac", "oaid", "serial"], 2, 4)
    header: dict[str, object] = {
        "appkey": "5f8d2e1a" + _hexid(rng, 16),
        "app_version": "3.2.0",
        "channel": "huawei",
        "sdk_version": "9.6.3",
        "sdk_type": "Android",
        "device_model": rng.choice(MODELS),
        "device_board": "lahaina",
        "os": "Android",
        "os_version": "12",
        "resolution": "2400*1080",
        "timezone": 8,
        "country": "CN",
        "language": "zh",
        "carrier": rng.choice(CARRIERS),
        "access": "wifi",
        "session_id": _hexid(rng).upper(),
        "idmd5": _md5(_uuid(rng)),
        "id_tracking": {"utdid": base64.b64encode(rng.randbytes(18)).decode()},
    }
    if "imei" in planted:
        header["imei_md5"] = _md5(VALUES["imei"])
    if "android_id" in planted:
        header["android_id"] = VALUES["android_id"]
    if "mac" in planted:
        header["mac"] = VALUES["mac"]
    if "oaid" in planted:
        header["oaid"] = VALUES["oaid"]
    if "serial" in planted:
        header["serial"] = VALUES["serial"]
    body_events = [
        {"id": _uuid(rng), "ts": _ts(rng), "page_name": rng.choice(SCREENS), "duration": rng.randint(100, 90000)}
        for _ in range(rng.randint(4, 12))
    ]
    doc = {
        "header": header,
        "content": {
            "analytics": {
                "ekv": [{_hexid(rng, 8): body_events}],
                "sessions": [{"id": _hexid(rng).upper(), "start_time": _ts(rng)}],
            }
        },
    }
    body = base64.b64encode(_gzip(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()))
    return (
        "POST",
        "ulogs.umeng.com",
        "/unify_logs",
        [("Content-Type", "application/x-www-form-urlencoded"), ("Msg-Type", "envelope/json")],
        body,
    )


def _firebase(rng: random.Random) -> Built:
    """app-measurement: a protobuf batch of bundles, each event with its parameters."""
    planted = _pick(rng, ["gaid", "android_id"], 1, 2)
    events = b""
    for _ in range(rng.randint(8, 16)):
        params = b"".join(
            _pb(
                2, _pb(1, name) + (_pb(2, rng.choice(SCREENS)) if rng.random() < 0.5 else _pb(4, rng.randint(0, 10**6)))
            )
            for name in rng.sample(["_o", "_sc", "_si", "_et", "_pc", "_mst", "_c", "_r", "_fr"], 4)
        )
        events += _pb(2, params + _pb(3, rng.choice(["_e", "_s", "_vs", "_ab", "_f", "_ui"])) + _pb(4, _ts(rng)))
    bundle = (
        _pb(1, 1)
        + events
        + _pb(5, _ts(rng))
        + _pb(8, "android")
        + _pb(9, "12")
        + _pb(10, rng.choice(MODELS))
        + _pb(11, "zh-cn")
        + _pb(12, 480)
        + _pb(14, "com.example.consentdemo")
        + _pb(16, "3.2.0")
        + _pb(17, 231004)
        + _pb(19, VALUES["gaid"] if "gaid" in planted else _uuid(rng))
        + _pb(20, 0)
        + _pb(21, _hexid(rng))
        + _pb(25, "1:123456789012:android:" + _hexid(rng, 16))
        + _pb(27, VALUES["android_id"] if "android_id" in planted else _hexid(rng, 16))
        + _pb(30, _hexid(rng, 16))
        + _pb(31, rng.randint(1, 400))
    )
    body = _pb(1, bundle)
    return "POST", "app-measurement.com", "/a", [("Content-Type", "application/x-www-form-urlencoded")], body


def _appsflyer(rng: random.Random) -> Built:
    """AppsFlyer: a JSON event with the device block and the SDK's own fingerprints."""
    planted = _pick(rng, ["gaid", "android_id", "imei", "phone_number", "email"], 1, 3)
    doc: dict[str, object] = {
        "advertiserId": VALUES["gaid"] if "gaid" in planted else _uuid(rng),
        "advertiserIdEnabled": "true",
        "af_timestamp": str(_ts(rng)),
        "app_version_code": "320",
        "app_version_name": "3.2.0",
        "appsflyerKey": _hexid(rng, 22),
        "brand": "Xiaomi",
        "carrier": "CMCC",
        "counter": str(rng.randint(1, 50)),
        "country": "CN",
        "date1": "2026-03-02_100012+0800",
        "deviceData": {
            "arch": "",
            "build_display_id": "SKQ1.211103.001",
            "cpu_abi": "arm64-v8a",
            "cpu_abi2": "",
            "dim": {"size": "2", "xdp": "395.565", "ydp": "394.541", "x_px": "1080", "y_px": "2400", "d_dpi": "440"},
        },
        "deviceType": "user",
        "device": "spes",
        "eventName": rng.choice(["af_login", "af_purchase", "af_content_view"]),
        "eventValue": json.dumps(
            {"af_revenue": rng.randint(1, 500), "af_currency": "CNY", "af_content_id": str(rng.randint(10**5, 10**6))}
        ),
        "firstLaunchDate": "2026-03-01_093010+0800",
        "iaecounter": str(rng.randint(0, 9)),
        "installDate": "2026-03-01_093001+0800",
        "isFirstCall": "false",
        "isGaidWithGps": "true",
        "lang": "中文",
        "lang_code": "zh",
        "model": rng.choice(MODELS),
        "network": "WIFI",
        "operator": "中国移动",
        "platformextension": "android_native",
        "product": "spes",
        "registeredUninstall": False,
        "sdk": "31",
        "timepassedsincelastlaunch": str(rng.randint(1, 10**5)),
        "uid": f"{_ts(rng)}-{rng.getrandbits(63)}",
        "af_v": _sha1(_hexid(rng)),
        "af_v2": _md5(_hexid(rng)),
        "installer_package": "com.xiaomi.market",
        "af_preinstalled": "false",
        "sc_o": "p",
    }
    if "android_id" in planted:
        doc["android_id"] = VALUES["android_id"]
    if "imei" in planted:
        doc["imei"] = VALUES["imei"]
    if "phone_number" in planted:
        doc["phone_sha256"] = _sha256(VALUES["phone_number"])
    if "email" in planted:
        doc["sha1_el"] = _sha1(VALUES["email"])
    path = f"/api/v6.12/androidevent?app_id=com.example.consentdemo&buildnumber=6.12.{rng.randint(0, 4)}"
    return (
        "POST",
        "launches.appsflyersdk.com",
        path,
        [("Content-Type", "application/json")],
        json.dumps(doc, ensure_ascii=False).encode(),
    )


def _jpush(rng: random.Random) -> Built:
    """JPush: a JSON report, the IMEI as upper-case sha1, device info beside it."""
    planted = _pick(rng, ["imei", "android_id", "mac", "iccid", "imsi"], 1, 3)
    doc: dict[str, object] = {
        "platform": "a",
        "sdk_ver": "5.2.0",
        "core_sdk_ver": "4.1.0",
        "appkey": _hexid(rng, 24),
        "uid": rng.randint(10**10, 10**11),
        "channel": "developer-default",
        "model": rng.choice(MODELS),
        "manufacturer": "Xiaomi",
        "os_ver": "12",
        "resolution": "1080*2400",
        "network": "wifi",
        "rom": "MIUI 13.0.4",
        "app_ver": "3.2.0",
        "content": [
            {
                "itime": _ts(rng) // 1000,
                "type": rng.choice(["active_launch", "app_list", "loc_info"]),
                "msg_id": str(rng.randint(10**15, 10**16)),
                "data": _hexid(rng, 40),
            }
            for _ in range(rng.randint(3, 8))
        ],
        "imei": _sha1(VALUES["imei"]).upper() if "imei" in planted else _sha1(_hexid(rng)).upper(),
    }
    if "android_id" in planted:
        doc["androidId"] = VALUES["android_id"]
    if "mac" in planted:
        doc["mac"] = VALUES["mac"].upper()
    if "iccid" in planted:
        doc["iccid"] = VALUES["iccid"]
    if "imsi" in planted:
        doc["imsi"] = VALUES["imsi"]
    return "POST", "tsis.jpush.cn", "/v1/report", [("Content-Type", "application/json")], json.dumps(doc).encode()


def _bugly(rng: random.Random) -> Built:
    """Bugly: gzip of a protobuf crash record with the device's identifiers and a stack."""
    planted = _pick(rng, ["android_id", "serial", "imei", "mac"], 1, 3)
    stack = "\n".join(
        f"\tat com.example.consentdemo.{rng.choice(SCREENS)}.on{rng.choice(['Click', 'Resume', 'Bind'])}"
        f"({rng.choice(SCREENS)}.java:{rng.randint(10, 900)})"
        for _ in range(rng.randint(20, 50))
    )
    device = (
        _pb(1, rng.choice(MODELS))
        + _pb(2, "12")
        + _pb(3, "arm64-v8a")
        + _pb(4, VALUES["android_id"] if "android_id" in planted else _hexid(rng, 16))
        + _pb(5, VALUES["serial"] if "serial" in planted else "unknown")
        + _pb(6, _md5(VALUES["imei"]) if "imei" in planted else _md5(_hexid(rng)))
        + _pb(7, VALUES["mac"] if "mac" in planted else "02:00:00:00:00:00")
        + _pb(8, rng.randint(10**9, 10**10))
    )
    crash = (
        _pb(1, "java.lang.NullPointerException")
        + _pb(2, "Attempt to invoke virtual method on a null object")
        + _pb(3, stack)
        + _pb(4, _ts(rng))
        + _pb(5, _uuid(rng))
    )
    body = _gzip(
        _pb(1, "com.example.consentdemo") + _pb(2, "3.2.0") + _pb(3, device) + _pb(4, crash) + _pb(5, _hexid(rng, 32))
    )
    return (
        "POST",
        "android.bugly.qq.com",
        f"/rqd/async?aid={_uuid(rng)}",
        [("Content-Type", "application/octet-stream")],
        body,
    )


def _pangle(rng: random.Random) -> Built:
    """Pangle: a JSON ad request of many fields, gzip as Content-Encoding."""
    planted = _pick(rng, ["oaid", "android_id", "imei", "mac", "gaid"], 2, 4)
    device: dict[str, object] = {
        "did": str(rng.randint(10**15, 10**16)),
        "os": 1,
        "os_version": "12",
        "os_api": 31,
        "vendor": "Xiaomi",
        "model": rng.choice(MODELS),
        "language": "zh",
        "conn_type": 1,
        "mcc_mnc": "46000",
        "screen_width": 1080,
        "screen_height": 2400,
        "sec_did": _hexid(rng, 64),
        "boot": str(_ts(rng)),
        "power_on_time": str(rng.randint(10**6, 10**8)),
        "rom_version": "MIUI-V13.0.4.0",
        "sys_compiling_time": "1636099200000",
        "timezone": 8,
        "carrier_name": rng.choice(CARRIERS),
        "total_mem": str(8 * 2**30),
        "free_space_in": str(rng.randint(10**9, 10**11)),
        "sd_size": str(rng.randint(10**9, 10**11)),
        "is_root": 0,
        "cpu_num": 8,
        "cpu_max_freq": "2400000",
        "cpu_min_freq": "300000",
        "battery_remaining_pct": rng.randint(5, 100),
        "is_charging": 0,
        "screen_bright": 0.4,
        "is_screen_off": 0,
        "install_id": str(rng.randint(10**15, 10**16)),
    }
    if "oaid" in planted:
        device["oaid"] = VALUES["oaid"]
    if "android_id" in planted:
        device["android_id"] = VALUES["android_id"]
    if "imei" in planted:
        device["imei_md5"] = _md5(VALUES["imei"])
    if "mac" in planted:
        device["mac"] = VALUES["mac"]
    if "gaid" in planted:
        device["gaid"] = VALUES["gaid"]
    doc = {
        "request_id": _uuid(rng),
        "ad_sdk_version": "5.1.0.6",
        "source_type": "app",
        "ts": _ts(rng) // 1000,
        "app": {
            "appid": "5123456",
            "name": "Consent Demo Shop",
            "package_name": "com.example.consentdemo",
            "version": "3.2.0",
            "is_paid_app": False,
            "apk_sign": _md5(_hexid(rng)),
        },
        "device": device,
        "user": {"gender": 0, "age": 0, "keywords": ""},
        "adslots": [
            {
                "id": str(rng.randint(10**8, 10**9)),
                "adtype": 5,
                "pos": 5,
                "accepted_size": [{"width": 1080, "height": 1920}],
                "is_support_dpl": True,
                "ad_count": 3,
                "render_control": 1,
            }
        ],
        "req_sign": _sha256(_hexid(rng)),
        "abtest_ver": "v" + ".".join(str(rng.randint(0, 99)) for _ in range(3)),
    }
    body = _gzip(json.dumps(doc, ensure_ascii=False).encode())
    return (
        "POST",
        "api-access.pangolin-sdk-toutiao.com",
        "/api/ad/union/sdk/get_ads/",
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Encoding", "gzip")],
        body,
    )


def _gdt(rng: random.Random) -> Built:
    """GDT: muid is md5 of the upper-case MAC without colons; ``ext`` is url-encoded JSON."""
    planted = _pick(rng, ["mac", "oaid", "android_id", "imei"], 1, 3)
    ext = {
        "req": {
            "m1": _md5(VALUES["android_id"]) if "android_id" in planted else _md5(_hexid(rng)),
            "m5": _md5(VALUES["imei"]) if "imei" in planted else "",
            "conn": 1,
            "carrier": 1,
            "c_os": "android",
            "c_osver": "12",
            "c_device": rng.choice(MODELS),
            "c_pkgname": "com.example.consentdemo",
            "sdk_src": "",
            "sdk_st": 1,
            "screen_height": 2400,
            "screen_width": 1080,
            "deep_link_version": 1,
            "scs": _hexid(rng, 20),
            "render_type": 1,
            "placement_type": 9,
            "support_features": 127,
            "opensdk_ver": "6.8.0",
            "support_app_landing_page": 1,
            "ast": "GDT" + _hexid(rng, 24),
        }
    }
    params = {
        "adposcount": "1",
        "count": "1",
        "posid": str(rng.randint(10**15, 10**16)),
        "posw": "1080",
        "posh": "1920",
        "charset": "utf8",
        "datatype": "2",
        "outputformat": "json",
        "fmt": "1",
        "muidtype": "2",
        "muid": _md5(VALUES["mac"].replace(":", "").upper()) if "mac" in planted else _md5(_hexid(rng)),
        "taid": _hexid(rng, 64),
        "ext": json.dumps(ext, separators=(",", ":")),
        "oaid": VALUES["oaid"] if "oaid" in planted else "",
        "ts": str(_ts(rng)),
        "sign": _md5(_hexid(rng)),
    }
    return "GET", "mi.gdt.qq.com", "/gdt_mview.fcg?" + urlencode(params), [], b""


def _location(rng: random.Random) -> Built:
    """Baidu / AMap location: a long query with a Wi-Fi scan list, cells, coordinates."""
    planted = _pick(rng, ["bssid", "imei", "android_id", "location", "ssid"], 2, 4)
    wifi = [
        f"{rng.getrandbits(48):012x};{-rng.randint(35, 90)};"
        f"{rng.choice(['ChinaNet', 'CMCC-WEB', 'TP-LINK'])}_{_hexid(rng, 4)}"
        for _ in range(rng.randint(5, 12))
    ]
    if "bssid" in planted:
        wifi.insert(
            rng.randint(0, len(wifi)),
            f"{VALUES['bssid'].replace(':', '')};-48;{VALUES['ssid'] if 'ssid' in planted else 'Office'}",
        )
    params: dict[str, str] = {
        "output": "json",
        "ver": "9.3.5",
        "cl": f"460|0|{rng.randint(10**4, 10**5)}|{rng.randint(10**6, 10**8)}|{rng.randint(-110, -60)}",
        "cl_list": "|".join(
            f"460,0,{rng.randint(10**4, 10**5)},{rng.randint(10**6, 10**8)}" for _ in range(rng.randint(2, 5))
        ),
        "wf": "|".join(wifi),
        "prod": "com.example.consentdemo:3.2.0",
        "net": "wifi",
        "os": "android",
        "sv": "12",
        "mb": rng.choice(MODELS),
        "coor": "gcj02",
        "addr": "allj",
        "cu": _hexid(rng, 32).upper(),
        "sdk": "9.3.5",
        "loctype": "1",
        "t": str(_ts(rng)),
        "sign": _sha1(_hexid(rng)),
    }
    if "imei" in planted:
        params["im"] = VALUES["imei"]
    if "android_id" in planted:
        params["aid"] = VALUES["android_id"]
    if "location" in planted:
        params["lat"], params["lng"] = (
            f"{LATITUDE + rng.uniform(-0.002, 0.002):.6f}",
            f"{LONGITUDE + rng.uniform(-0.002, 0.002):.6f}",
        )
    host = rng.choice(["loc.map.baidu.com", "apilocate.amap.com"])
    return "GET", host, "/sdk.php?" + urlencode(params), [], b""


def _growingio(rng: random.Random) -> Built:
    """GrowingIO v3: a JSON array of events, the device ids in each."""
    planted = _pick(rng, ["android_id", "oaid", "imei", "account_name", "phone_number"], 1, 3)
    device_id = _uuid(rng)
    events = []
    for i in range(rng.randint(2, 4)):
        ev: dict[str, object] = {
            "deviceId": device_id,
            "userId": VALUES["account_name"] if "account_name" in planted else "",
            "sessionId": _uuid(rng),
            "eventType": rng.choice(["VISIT", "PAGE", "VIEW_CLICK", "CUSTOM"]),
            "timestamp": _ts(rng),
            "domain": "com.example.consentdemo",
            "path": "/" + rng.choice(SCREENS),
            "eventSequenceId": i + 1,
            "appState": "FOREGROUND",
            "platform": "Android",
            "platformVersion": "12",
            "sdkVersion": "3.5.0",
            "appVersion": "3.2.0",
            "deviceBrand": "Xiaomi",
            "deviceModel": rng.choice(MODELS),
            "deviceType": "PHONE",
            "networkState": "WIFI",
            "screenHeight": 2400,
            "screenWidth": 1080,
            "language": "zh",
        }
        if "android_id" in planted:
            ev["androidId"] = VALUES["android_id"]
        if "oaid" in planted:
            ev["oaid"] = VALUES["oaid"]
        if "imei" in planted:
            ev["imei"] = VALUES["imei"]
        if "phone_number" in planted and i == 0:
            ev["attributes"] = {"phone": base64.b64encode(VALUES["phone_number"].encode()).decode()}
        events.append(ev)
    return (
        "POST",
        "napi.growingio.com",
        f"/v3/projects/{_hexid(rng, 16)}/collect?stm={_ts(rng)}",
        [("Content-Type", "application/json")],
        json.dumps(events, ensure_ascii=False).encode(),
    )


SDKS: dict[str, Callable[[random.Random], Built]] = {
    "sensorsdata": _sensors,
    "umeng": _umeng,
    "firebase": _firebase,
    "appsflyer": _appsflyer,
    "jpush": _jpush,
    "bugly": _bugly,
    "pangle": _pangle,
    "gdt": _gdt,
    "location": _location,
    "growingio": _growingio,
}


def generate_sdk_corpus_with_names(n: int, seed: int = 7) -> list[tuple[RequestRecord, str]]:
    """``n`` SDK requests, dealt round-robin over ``SDKS`` (then each built from the one
    ``random.Random(seed)``), with the SDK's name."""
    rng = random.Random(seed)
    names = list(SDKS)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        method, host, path, headers, body = SDKS[name](rng)
        record = RequestRecord(
            flow_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            time=START + i * SPACING_S,
            method=method,
            scheme="https",
            host=host,
            port=443,
            path=path,
            headers=(("Host", host), ("User-Agent", rng.choice(USER_AGENTS)), ("Accept-Encoding", "gzip"), *headers),
            body=body,
            sni=host,
            server_ip=SERVER_IPS.get(host, "198.51.100.200"),
        )
        out.append((record, name))
    return out


def generate_sdk_corpus(n: int, seed: int = 7) -> list[RequestRecord]:
    return [r for r, _ in generate_sdk_corpus_with_names(n, seed)]


__all__ = ["SDKS", "generate_sdk_corpus", "generate_sdk_corpus_with_names"]
