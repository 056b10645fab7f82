"""Write the demo session: 45 mitmproxy flows of a shopping app's cold start, and its truth.

Deterministic (fixed times, ids and addresses, gzip without a timestamp): the same
mitmproxy version writes the same bytes, so the committed capture can be checked against
this script. Alongside the capture it writes ``demo_truth.json``: what was planted in which
flow, in which disguise, before or after consent, and what must *not* be found. The
end-to-end test checks the replay finding by finding against how the session was built,
not against a stored copy of our own output.

    python captures/make_demo.py [--out captures/demo_session.mitm] [--truth PATH]

Flows are built by ``_flowbuild.py`` beside this file, which the benchmark corpus shares.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from _flowbuild import make_flow, stable_id, write_flows
from mitmproxy.version import VERSION

from consentscope.detectors import RequestRecord

HERE = Path(__file__).resolve().parent
START = 1_772_445_600.0  # 2026-03-02T10:00:00Z, the app's cold start
SPACING_S = 2.0  # between two requests; the user reads the consent dialog for a further 0.5 s
UA_DALVIK = "Dalvik/2.1.0 (Linux; U; Android 12; Redmi Note 11 Build/SKQ1.211103.001)"
UA_OKHTTP = "okhttp/4.9.3"

# The values of demo_profile.toml that the session plants (the profile is the source of truth
# for the detectors; these copies only build requests).
IMEI = "861234567890127"
SERIAL = "R58M41ABCDE"
ANDROID_ID = "9774d56d682e549c"
OAID = "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
MAC = "a4:50:46:1f:2c:9e"
BSSID = "f4:83:cd:12:34:56"
PHONE = "13812345678"
EMAIL = "zhang.wei@example.com"
NAME = "张伟"
ID_NUMBER = "110105199003071239"
APPS = [
    "com.tencent.mm", "com.eg.android.AlipayGphone", "com.sina.weibo", "com.ss.android.ugc.aweme",
    "com.taobao.taobao", "com.jingdong.app.mall", "com.xunmeng.pinduoduo", "com.netease.cloudmusic",
]
# Near misses that a careless matcher reports: profile values inside longer runs.
ORDER_NO = f"10{IMEI}001"  # 20 digits
TRACE_ID = f"ab{ANDROID_ID}deadbeef"  # 26 hex digits
CONSENT_PATH = "/v1/privacy/consent"


def md5(s: str) -> str:
    """Lower-hex md5, the form most Chinese SDKs send."""
    return hashlib.md5(s.encode()).hexdigest()


def b64gzip(obj: object) -> bytes:
    """base64 of gzip of compact JSON, Umeng's envelope; mtime=0 keeps the bytes stable."""
    return base64.b64encode(gzip.compress(json.dumps(obj, separators=(",", ":")).encode(), mtime=0))


@dataclass
class Spec:
    """One request of the session and what it plants."""

    method: str
    url: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: planted values: (data_type, encoding outermost first, location)
    expect: list[tuple[str, list[str], str]] = field(default_factory=list)
    ua: str = UA_DALVIK
    #: near misses that must not be reported: (data_type, value sent, location, why)
    must_not: list[tuple[str, str, str, str]] = field(default_factory=list)


def _pb(number: int, payload: bytes) -> bytes:
    """A protobuf length-delimited field, as Bugly's crash uploads are framed."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    return varint(number << 3 | 2) + varint(len(payload)) + payload


def session() -> list[Spec]:
    """The app's cold start: consent dialog shown, SDKs start early, user agrees, logs in."""
    api = "https://api.demoshop.com.cn"
    img = "https://img.demoshop.com.cn"
    umeng_body = b64gzip({"header": {"imei_md5": md5(IMEI), "android_id": ANDROID_ID, "mac": MAC,
                                     "os": "Android", "os_version": "12"}, "body": {"launch": 1}})
    umeng = Spec("POST", "https://ulogs.umeng.com/unify_logs", umeng_body,
                 {"Content-Type": "application/x-www-form-urlencoded", "Msg-Type": "envelope/json"},
                 [("imei", ["base64", "gzip", "json", "md5"], "body.json:$.header.imei_md5"),
                  ("android_id", ["base64", "gzip", "json"], "body.json:$.header.android_id"),
                  ("mac", ["base64", "gzip", "json"], "body.json:$.header.mac")])
    before = [
        Spec("GET", f"{api}/v1/config?platform=android&ver=3.2.0", ua=UA_OKHTTP),
        Spec("GET", f"{api}/v1/privacy/policy?lang=zh-CN", ua=UA_OKHTTP),
        Spec("GET", f"{img}/splash/2026-spring.webp", ua=UA_OKHTTP),
        umeng,
        Spec("POST", "https://sdk.open.talk.getui.net/api.php",
             urlencode({"action": "register", "appid": "dKx8Gd2vY1", "aid": ANDROID_ID, "oaid": OAID}).encode(),
             {"Content-Type": "application/x-www-form-urlencoded"},
             [("android_id", [], "body.form:aid"), ("oaid", [], "body.form:oaid")]),
        Spec("POST", "https://tsis.jpush.cn/v1/report",
             json.dumps({"platform": "a", "imei": hashlib.sha1(IMEI.encode()).hexdigest().upper(),
                         "sdk_ver": "5.2.0"}).encode(),
             {"Content-Type": "application/json"},
             [("imei", ["json", "upper", "sha1"], "body.json:$.imei")]),
        Spec("GET", "https://tsis.jpush.cn/v1/heartbeat?seq=1"),
        Spec("GET", "https://mi.gdt.qq.com/gdt_mview.fcg?" + urlencode(
            {"adposcount": "1", "oaid": OAID, "muidtype": "2", "muid": md5(MAC.replace(":", "").upper())}),
             expect=[("oaid", [], "url.query:oaid"), ("mac", ["md5", "upper", "nosep"], "url.query:muid")]),
        Spec("POST", "https://api-access.pangolin-sdk-toutiao.com/api/ad/union/sdk/get_ads/",
             gzip.compress(json.dumps({"device": {"gaid": GAID, "model": "Redmi Note 11"},
                                       "app": {"package": "com.example.consentdemo"}}).encode(), mtime=0),
             {"Content-Type": "application/json", "Content-Encoding": "gzip"},
             [("gaid", ["json"], "body.json:$.device.gaid")]),
        Spec("GET", "https://apilocate.amap.com/mobile/binary?" + urlencode(
            {"output": "json", "lat": "39.908712", "lng": "116.397455", "bssid": BSSID, "csid": "a1b2"}),
             expect=[("bssid", [], "url.query:bssid"), ("location", [], "url.query:lat")]),
        Spec("POST", "https://plbslog.umeng.com/plbs/loc",
             json.dumps({"la": 39908712, "lo": 116397455, "acc": 35}).encode(), {"Content-Type": "application/json"},
             [("location", ["json", "scaled1e6"], "body.json:$.la")]),
        Spec("GET", f"{img}/home/banner-1.jpg", ua=UA_OKHTTP),
        Spec("GET", f"{img}/home/banner-2.jpg", ua=UA_OKHTTP),
        Spec("POST", "https://api.mob.com/v2/apps/upload",
             json.dumps({"d": base64.b64encode(json.dumps(APPS).encode()).decode(), "t": 1}).encode(),
             {"Content-Type": "application/json"},
             [("installed_apps", ["json", "base64", "json"], "body.json:$.d>json:$")]),
        Spec("POST", f"https://android.bugly.qq.com/rqd/async?aid={stable_id('bugly')}",
             gzip.compress(f"crash=NullPointerException;serial={SERIAL};androidId={ANDROID_ID};".encode(), mtime=0),
             {"Content-Type": "application/octet-stream"},
             [("serial", ["gzip"], "body"), ("android_id", ["gzip"], "body")]),
        Spec("POST", "https://firebaseinstallations.googleapis.com/v1/projects/demo-shop/installations",
             json.dumps({"fid": "cK9vX2pQRtGm3nJ8LwE4aB", "appId": "1:123456789:android:abc123",
                         "authVersion": "FIS_v2", "sdkVersion": "a:17.1.0", "gaid": GAID}).encode(),
             {"Content-Type": "application/json"}, [("gaid", ["json"], "body.json:$.gaid")]),
        Spec("GET", "https://ulogs.umeng.com/ucc/config?appkey=5f8d2e1a"),
        Spec("GET", "https://sdk.open.talk.getui.net/api.php?action=heartbeat&cid=9a8b7c6d5e4f"),
        Spec("GET", f"{api}/v1/home/feed?page=1", ua=UA_OKHTTP),
        Spec("GET", f"{img}/items/10042.jpg", ua=UA_OKHTTP),
        Spec("GET", f"{img}/items/10043.jpg", ua=UA_OKHTTP),
    ]
    consent = [Spec("POST", f"{api}{CONSENT_PATH}", json.dumps({"agree": True, "version": "2026-02"}).encode(),
                    {"Content-Type": "application/json"}, ua=UA_OKHTTP)]
    after = [
        Spec("POST", "https://launches.appsflyersdk.com/api/v6.12/androidevent?app_id=com.example.consentdemo",
             json.dumps({"advertiserId": GAID, "eventName": "af_login",
                         "phone_sha256": hashlib.sha256(PHONE.encode()).hexdigest()}).encode(),
             {"Content-Type": "application/json"},
             [("gaid", ["json"], "body.json:$.advertiserId"), ("phone_number", ["json", "sha256"], "body.json:$.phone_sha256")]),
        umeng,
        Spec("POST", f"{api}/v1/login", urlencode({"phone": "+86" + PHONE, "code": "482913"}).encode(),
             {"Content-Type": "application/x-www-form-urlencoded"}, [("phone_number", ["cc+86"], "body.form:phone")],
             ua=UA_OKHTTP),
        Spec("GET", f"{api}/v1/user/profile?" + urlencode({"email": EMAIL}), expect=[("email", [], "url.query:email")],
             ua=UA_OKHTTP),
        Spec("POST", f"{api}/v1/kyc", json.dumps({"name": NAME, "id_no": ID_NUMBER}, ensure_ascii=False).encode(),
             {"Content-Type": "application/json; charset=utf-8"},
             [("real_name", ["json"], "body.json:$.name"), ("id_number", ["json"], "body.json:$.id_no")], ua=UA_OKHTTP),
        Spec("POST", "https://sdk.sensorsdata.cn/sa?project=demoshop",
             urlencode({"event": "invite", "contacts": "13900001111,13700002222"}).encode(),
             {"Content-Type": "application/x-www-form-urlencoded"}, [("contacts", [], "body.form:contacts")]),
        Spec("POST", f"{api}/v1/risk/check", json.dumps({"scene": "login"}).encode(),
             {"Content-Type": "application/json", "X-Sign": hashlib.new("sm3", PHONE.encode()).hexdigest()},
             [("phone_number", ["sm3"], "header:X-Sign")], ua=UA_OKHTTP),
        Spec("POST", "https://android.bugly.qq.com/rqd/sync",
             _pb(1, b"com.example.consentdemo") + _pb(2, _pb(7, IMEI.encode()) + _pb(8, b"Redmi Note 11")),
             {"Content-Type": "application/x-protobuf"}, [("imei", ["protobuf"], "body.protobuf:2.7")]),
        # must not match: the IMEI inside a longer number, the Android ID inside a longer hex run
        Spec("GET", f"{api}/v1/order/detail?" + urlencode({"no": ORDER_NO, "trace": TRACE_ID}), ua=UA_OKHTTP,
             must_not=[("imei", ORDER_NO, "url.query:no", "the IMEI's 15 digits inside a 20-digit order number"),
                       ("android_id", TRACE_ID, "url.query:trace",
                        "the Android ID's 16 hex digits inside a 26-digit hex trace id")]),
        Spec("GET", "https://tsis.jpush.cn/v1/heartbeat?seq=2"),
        Spec("GET", f"{api}/v1/cart", ua=UA_OKHTTP),
        Spec("GET", f"{img}/items/10044.jpg", ua=UA_OKHTTP),
        Spec("GET", f"{img}/items/10045.jpg", ua=UA_OKHTTP),
        Spec("POST", "https://ulogs.umeng.com/unify_logs", b64gzip({"header": {"session": "s-2"}, "body": {"page": "cart"}}),
             {"Content-Type": "application/x-www-form-urlencoded"}),
        Spec("GET", f"{api}/v1/coupons?page=1", ua=UA_OKHTTP),
        Spec("POST", "https://apilocate.amap.com/mobile/binary",
             urlencode({"loc": "116.397455,39.908712", "bssid": BSSID.replace(":", "").upper()}).encode(),
             {"Content-Type": "application/x-www-form-urlencoded"},
             [("bssid", ["upper", "nosep"], "body.form:bssid"), ("location", [], "body.form:loc")]),
        Spec("GET", f"{api}/v1/search?q=%E8%BF%90%E5%8A%A8%E9%9E%8B", ua=UA_OKHTTP),
        Spec("GET", f"{img}/items/10046.jpg", ua=UA_OKHTTP),
        Spec("GET", f"{api}/v1/recommend?slot=home", ua=UA_OKHTTP),
        Spec("GET", "https://sdk.open.talk.getui.net/api.php?action=heartbeat&cid=9a8b7c6d5e4f"),
        Spec("GET", f"{img}/items/10047.jpg", ua=UA_OKHTTP),
        Spec("GET", f"{api}/v1/address/list", ua=UA_OKHTTP),
        Spec("GET", f"{img}/items/10048.jpg", ua=UA_OKHTTP),
    ]
    return before + consent + after


def server_ips(specs: list[Spec]) -> dict[str, str]:
    """One documentation-range address per host, as a DNS lookup would give: same host, same IP."""
    hosts = list(dict.fromkeys(urlsplit(spec.url).hostname or "" for spec in specs))
    return {host: f"203.0.113.{10 + i}" for i, host in enumerate(hosts)}


def to_record(i: int, spec: Spec, t: float, server_ip: str) -> RequestRecord:
    """The request as the phone sent it: Host, User-Agent, Accept-Encoding, the spec's headers."""
    parts = urlsplit(spec.url)
    host = parts.hostname or ""
    headers = {"Host": host, "User-Agent": spec.ua, "Accept-Encoding": "gzip", **spec.headers}
    if spec.body:
        headers["Content-Length"] = str(len(spec.body))
    return RequestRecord(
        flow_id=stable_id(f"flow-{i}"), time=t, method=spec.method, scheme=parts.scheme, host=host,
        port=parts.port or (443 if parts.scheme == "https" else 80),
        path=parts.path + (f"?{parts.query}" if parts.query else ""),
        headers=tuple(headers.items()), body=spec.body, sni=host if parts.scheme == "https" else None,
        server_ip=server_ip,
    )


def build(specs: list[Spec]) -> tuple[list[RequestRecord], dict]:
    """Records of the session and the truth document describing them."""
    consent_index = next(i for i, s in enumerate(specs) if s.url.endswith(CONSENT_PATH))
    ips = server_ips(specs)
    records: list[RequestRecord] = []
    planted: list[dict] = []
    negatives: list[dict] = []
    for i, spec in enumerate(specs):
        t = START + SPACING_S * i + (0.5 if i > consent_index else 0.0)
        record = to_record(i, spec, t, ips[urlsplit(spec.url).hostname or ""])
        records.append(record)
        # the consent request itself already counts as after consent
        phase = "before-consent" if i < consent_index else "after-consent"
        for data_type, encoding, location in spec.expect:
            planted.append({"flow_id": record.flow_id, "host": record.host, "data_type": data_type,
                            "encoding": encoding, "location": location, "phase": phase})
        for data_type, value, location, why in spec.must_not:
            negatives.append({"flow_id": record.flow_id, "host": record.host, "data_type": data_type,
                              "value": value, "location": location, "why": why})
    truth = {
        "mitmproxy": VERSION,
        "flows": len(records),
        "start": datetime.fromtimestamp(START, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "consent_marker": CONSENT_PATH,
        "consent_flow_id": records[consent_index].flow_id,
        "hosts": dict(sorted(Counter(r.host for r in records).items())),
        "findings": planted,
        "must_not_match": negatives,
    }
    return records, truth


def main() -> None:
    """Write the capture and, beside it unless --truth says otherwise, the truth file."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(HERE / "demo_session.mitm"))
    ap.add_argument("--truth", default=None, help="where to write the truth file (default: beside --out)")
    args = ap.parse_args()
    out = Path(args.out)
    truth_path = Path(args.truth) if args.truth else out.with_name("demo_truth.json")
    records, truth = build(session())
    write_flows((make_flow(r, client_port=40000 + i) for i, r in enumerate(records)), out)
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} ({truth['flows']} flows) and {truth_path} ({len(truth['findings'])} planted values, "
          f"{len(truth['must_not_match'])} near misses)")


if __name__ == "__main__":
    main()
