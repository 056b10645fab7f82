"""A deterministic, realistic request corpus and a full profile for the benchmarks.

The mix follows what a phone sends during a test session: mostly small API calls, some
SDK batches (often gzip or base64 of gzip), a few image uploads and the odd large log.
About one request in ten carries a profile value in some disguise.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
from urllib.parse import quote

from consentscope.detectors import RequestRecord

VALUES = {
    "imei": "861234567890127", "imsi": "460001234567890", "iccid": "89860012345678901234",
    "serial": "R58M41ABCDE", "android_id": "9774d56d682e549c", "oaid": "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11",
    "gaid": "38400000-8cf0-11bd-b23e-10b96e40000d", "idfa": "6d92078a-8246-4ba4-ae5b-76104861e7dc",
    "mac": "a4:50:46:1f:2c:9e", "bluetooth_mac": "a4:50:46:1f:2c:9f", "bssid": "f4:83:cd:12:34:56",
    "ssid": "DemoLab-5G", "device_name": "Zhang Wei's Redmi", "phone_number": "13812345678",
    "email": "zhang.wei@example.com", "real_name": "张伟", "id_number": "110105199003071239",
    "bank_card": "6222021234567890128", "account_name": "zhangwei88",
}
APPS = ["com.tencent.mm", "com.eg.android.AlipayGphone", "com.sina.weibo", "com.ss.android.ugc.aweme",
        "com.taobao.taobao", "com.jingdong.app.mall", "com.xunmeng.pinduoduo", "com.netease.cloudmusic"]
HOSTS = ["api.demoshop.com.cn", "img.demoshop.com.cn", "ulogs.umeng.com", "tsis.jpush.cn", "mi.gdt.qq.com",
         "sdk.open.talk.getui.net", "api-access.pangolin-sdk-toutiao.com", "app-measurement.com",
         "launches.appsflyersdk.com", "android.bugly.qq.com", "cdn.example-cdn.net"]
WORDS = ["event", "page", "click", "session", "version", "model", "brand", "network", "wifi", "screen",
         "duration", "item", "price", "category", "search", "banner", "feed", "cart", "order", "coupon"]


def full_profile_toml() -> str:
    device = "\n".join(f'{k} = "{v}"' for k, v in VALUES.items() if k in (
        "imei", "imsi", "iccid", "serial", "android_id", "oaid", "gaid", "idfa", "mac", "bluetooth_mac",
        "bssid", "ssid", "device_name"))
    person = "\n".join(f'{k} = "{v}"' for k, v in VALUES.items() if k in (
        "phone_number", "email", "real_name", "id_number", "bank_card", "account_name"))
    return (
        '[app]\npackage = "com.example.consentdemo"\napp_type = "online_shopping"\n'
        'first_party_domains = ["demoshop.com.cn"]\n'
        f"[device]\n{device}\n[person]\n{person}\n"
        "[location]\nlatitude = 39.9087\nlongitude = 116.3975\n"
        f"[lists]\ninstalled_apps = {json.dumps(APPS)}\ncontacts = [\"13900001111\", \"13700002222\"]\n"
    )


def _disguise(rng: random.Random, value: str) -> str:
    kind = rng.choice(["plain", "md5", "sha256u", "b64", "url", "sha1"])
    if kind == "md5":
        return hashlib.md5(value.encode()).hexdigest()
    if kind == "sha256u":
        return hashlib.sha256(value.encode()).hexdigest().upper()
    if kind == "sha1":
        return hashlib.sha1(value.encode()).hexdigest()
    if kind == "b64":
        return base64.b64encode(value.encode()).decode()
    if kind == "url":
        return quote(value, safe="")
    return value


def _doc(rng: random.Random, size: int) -> dict:
    doc: dict = {"ts": rng.randrange(1_700_000_000_000, 1_800_000_000_000), "sid": rng.randbytes(16).hex()}
    while len(json.dumps(doc)) < size:
        key = f"{rng.choice(WORDS)}_{len(doc)}"
        r = rng.random()
        if r < 0.4:
            doc[key] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
        elif r < 0.7:
            doc[key] = rng.randint(0, 10**9)
        elif r < 0.85:
            doc[key] = {w: rng.random() for w in rng.sample(WORDS, 4)}
        else:
            doc[key] = [rng.choice(WORDS) for _ in range(rng.randint(2, 10))]
    return doc


def generate_corpus(n: int, seed: int = 1) -> list[RequestRecord]:
    rng = random.Random(seed)
    out: list[RequestRecord] = []
    for i in range(n):
        host = rng.choice(HOSTS)
        headers: list[tuple[str, str]] = [("Host", host), ("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 12)")]
        query = f"?v=3.2.{i % 10}&ch=official"
        r = rng.random()
        leak = rng.random() < 0.10
        if r < 0.70:
            doc = _doc(rng, rng.randint(300, 3000))
            if leak:
                k = rng.choice(list(VALUES))
                doc[f"d_{k}"] = _disguise(rng, VALUES[k])
            if rng.random() < 0.3:
                body = "&".join(f"{k}={quote(str(v))}" for k, v in doc.items()).encode()
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            else:
                body = json.dumps(doc, ensure_ascii=False).encode()
                headers.append(("Content-Type", "application/json"))
        elif r < 0.90:
            doc = {"batch": [_doc(rng, 400) for _ in range(rng.randint(6, 100))]}
            if leak:
                imei_md5 = hashlib.md5(VALUES["imei"].encode()).hexdigest()
                doc["header"] = {"imei": imei_md5, "apps": APPS[: rng.randint(1, 8)]}
            raw = json.dumps(doc).encode()
            style = rng.random()
            if style < 0.4:
                body = gzip.compress(raw, compresslevel=6, mtime=0)
                headers.append(("Content-Encoding", "gzip"))
            elif style < 0.7:
                body = base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0))
            else:
                body = raw
            headers.append(("Content-Type", "application/json"))
        elif r < 0.98:
            body = rng.randbytes(rng.randint(50_000, 300_000))
            headers.append(("Content-Type", "image/jpeg"))
        else:
            lines = [json.dumps(_doc(rng, 500)) for _ in range(rng.randint(200, 2000))]
            body = "\n".join(lines).encode()[: 1024 * 1024]
            headers.append(("Content-Type", "text/plain"))
        if leak and rng.random() < 0.3:
            query += f"&aid={_disguise(rng, VALUES['android_id'])}"
        out.append(RequestRecord(
            flow_id=f"bench-{i}", time=1_772_445_600.0 + i * 0.05, method="POST", scheme="https", host=host,
            port=443, path=f"/api/v{i % 3}/collect{query}", headers=tuple(headers), body=body,
        ))
    return out
