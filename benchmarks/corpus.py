"""A deterministic, realistic request corpus and a full profile for the benchmarks.

The mix follows what a phone sends during a test session, by size of what goes over the
wire (body plus path):

* 70 % API calls of 0.3-3 KB: JSON bodies, form bodies, or GETs with a long query;
* 20 % SDK batches of 3-50 KB: plain JSON, gzip with ``Content-Encoding``, or base64 of
  gzip of JSON (Umeng's envelope, nothing in the headers says so);
* 8 % binary uploads of 50-300 KB: JPEG images, raw or inside multipart forms;
* 2 % large bodies of 300 KB-1 MB: newline-delimited JSON log uploads.

The shares are exact (categories are dealt, then shuffled), not drawn, so the benchmark
measures the same mix at every size. One request in ten carries one to three profile
values in a random disguise (plain, md5, sha1, sha256, upper-hex sha256, sm3, base64,
url-encoded, +86, md5 of the upper-cased MAC without colons, scaled coordinates, app and
contact lists), placed where such values really travel: JSON fields, form fields, query
parameters, headers, inside compressed batches, multipart fields and log lines.

Same ``n`` and ``seed``, same records: everything comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote, urlencode

from consentscope.detectors import RequestRecord

START = 1_772_445_600.0  # 2026-03-02T10:00:00Z, like the demo session
SPACING_S = 0.05

#: Every device and person key of the profile format, filled (fictional, checksum-valid).
VALUES: dict[str, str] = {
    "imei": "861234567890127", "meid": "A0000012345678", "imsi": "460001234567890",
    "iccid": "89860012345678901234", "serial": "R58M41ABCDE", "android_id": "9774d56d682e549c",
    "oaid": "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11", "gaid": "38400000-8cf0-11bd-b23e-10b96e40000d",
    "idfa": "6d92078a-8246-4ba4-ae5b-76104861e7dc", "idfv": "e1f2a3b4-c5d6-47e8-9f0a-1b2c3d4e5f60",
    "mac": "a4:50:46:1f:2c:9e", "bluetooth_mac": "a4:50:46:1f:2c:9f", "bssid": "f4:83:cd:12:34:56",
    "ssid": "DemoLab-5G", "device_name": "Zhang Wei's Redmi",
    "phone_number": "13812345678", "email": "zhang.wei@example.com", "real_name": "张伟",
    "id_number": "110105199003071239", "bank_card": "6222021234567890128", "account_name": "zhangwei88",
}
DEVICE_KEYS = ("imei", "meid", "imsi", "iccid", "serial", "android_id", "oaid", "gaid", "idfa", "idfv", "mac",
               "bluetooth_mac", "bssid", "ssid", "device_name")
PERSON_KEYS = ("phone_number", "email", "real_name", "id_number", "bank_card", "account_name")
CUSTOM = {"member_id": "M2026030200117"}
LATITUDE, LONGITUDE = 39.9087, 116.3975
APPS = ["com.tencent.mm", "com.eg.android.AlipayGphone", "com.sina.weibo", "com.ss.android.ugc.aweme",
        "com.taobao.taobao", "com.jingdong.app.mall", "com.xunmeng.pinduoduo", "com.netease.cloudmusic"]
CONTACTS = ["13900001111", "13700002222", "李雷"]

FIRST_PARTY = ["api.demoshop.com.cn", "img.demoshop.com.cn", "upload.demoshop.com.cn"]
SDK_HOSTS = ["ulogs.umeng.com", "tsis.jpush.cn", "mi.gdt.qq.com", "sdk.open.talk.getui.net",
             "api-access.pangolin-sdk-toutiao.com", "app-measurement.com", "launches.appsflyersdk.com",
             "android.bugly.qq.com", "sdk.sensorsdata.cn", "apilocate.amap.com"]
#: one documentation-range address per host, as DNS would give
SERVER_IPS = {h: f"198.51.100.{10 + i}" for i, h in enumerate(FIRST_PARTY + SDK_HOSTS)}
USER_AGENTS = ["Dalvik/2.1.0 (Linux; U; Android 12; Redmi Note 11 Build/SKQ1.211103.001)", "okhttp/4.9.3",
               "Dalvik/2.1.0 (Linux; U; Android 13; V2241A Build/TP1A.220624.014)"]
WORDS = ["event", "page", "click", "session", "version", "model", "brand", "network", "wifi", "screen",
         "duration", "item", "price", "category", "search", "banner", "feed", "cart", "order", "coupon"]

#: (category, share, smallest and largest wire size in bytes: body plus path)
MIX: tuple[tuple[str, float, int, int], ...] = (
    ("api", 0.70, 300, 3 * 1024),
    ("sdk_batch", 0.20, 3 * 1024 + 1, 50 * 1024),
    ("binary", 0.08, 50 * 1024 + 1, 300 * 1024),
    ("large", 0.02, 300 * 1024 + 1, 1024 * 1024),
)
LEAK_SHARE = 0.10


def full_profile_toml() -> str:
    """A profile with every key of every section filled: the most needles a scan can have."""

    def q(v: str) -> str:
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string

    def table(keys: Sequence[str]) -> str:
        return "\n".join(f"{k} = {q(VALUES[k])}" for k in keys)

    return (
        "[app]\n"
        'package = "com.example.consentdemo"\nname = "Consent Demo Shop"\napp_type = "online_shopping"\n'
        'first_party_domains = ["demoshop.com.cn"]\n'
        f"[device]\n{table(DEVICE_KEYS)}\n"
        f"[person]\n{table(PERSON_KEYS)}\n"
        f"[location]\nlatitude = {LATITUDE}\nlongitude = {LONGITUDE}\nprecision_m = 1000\n"
        f"[lists]\ninstalled_apps = {json.dumps(APPS)}\n"
        f"contacts = {json.dumps(CONTACTS, ensure_ascii=False)}\n"
        "[custom]\n" + "\n".join(f"{k} = {q(v)}" for k, v in CUSTOM.items()) + "\n"
    )


# ----------------------------------------------------------------------------- disguises

def _sm3(s: str) -> str:
    """SM3 lower hex (OpenSSL 3 has it; Chinese SDKs use it where a national standard is asked for)."""
    return hashlib.new("sm3", s.encode()).hexdigest()


#: value transforms apps and SDKs apply before sending an identifier
DISGUISES: dict[str, Callable[[str], str]] = {
    "plain": lambda v: v,
    "md5": lambda v: hashlib.md5(v.encode()).hexdigest(),
    "sha1": lambda v: hashlib.sha1(v.encode()).hexdigest(),
    "sha256": lambda v: hashlib.sha256(v.encode()).hexdigest(),
    "sha256_upper": lambda v: hashlib.sha256(v.encode()).hexdigest().upper(),
    "sm3": _sm3,
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "url": lambda v: quote(v, safe=""),
}


def _disguise(rng: random.Random, key: str) -> str:
    """A profile value as some SDK would send it; MACs and phone numbers get their own habits too."""
    value = VALUES[key]
    if key in ("mac", "bluetooth_mac", "bssid") and rng.random() < 0.4:
        return hashlib.md5(value.replace(":", "").upper().encode()).hexdigest()  # GDT's muid
    if key == "phone_number" and rng.random() < 0.3:
        return "+86" + value
    return DISGUISES[rng.choice(list(DISGUISES))](value)


def _leaks(rng: random.Random) -> dict[str, object]:
    """One to three planted fields: identifiers in a disguise, sometimes a point or a list."""
    out: dict[str, object] = {}
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.08:
            if rng.random() < 0.5:
                out["lat"], out["lng"] = round(LATITUDE + rng.uniform(-0.003, 0.003), 6), \
                    round(LONGITUDE + rng.uniform(-0.003, 0.003), 6)
            else:
                out["la"], out["lo"] = round(LATITUDE * 1e6), round(LONGITUDE * 1e6)
        elif r < 0.14:
            out["pkgs"] = rng.sample(APPS, rng.randint(3, len(APPS)))
        elif r < 0.18:
            out["contacts"] = ",".join(CONTACTS[:2])
        elif r < 0.22:
            out["member"] = CUSTOM["member_id"]
        else:
            key = rng.choice(list(VALUES))
            out[f"d_{key}"] = _disguise(rng, key)
    return out


# ----------------------------------------------------------------------------- filler

def _doc(rng: random.Random, size: int, seed_fields: dict[str, object] | None = None) -> dict[str, object]:
    """A JSON object of about ``size`` bytes of event-like fields (random, so it compresses like real logs)."""
    doc: dict[str, object] = {"ts": rng.randrange(1_700_000_000_000, 1_800_000_000_000), "sid": rng.randbytes(16).hex()}
    doc.update(seed_fields or {})
    length = len(json.dumps(doc, ensure_ascii=False))
    while length < size:
        key = f"{rng.choice(WORDS)}_{len(doc)}"
        r = rng.random()
        value: object
        if r < 0.4:
            value = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
        elif r < 0.7:
            value = rng.randint(0, 10**9)
        elif r < 0.85:
            value = {w: rng.random() for w in rng.sample(WORDS, 4)}
        else:
            value = [rng.choice(WORDS) for _ in range(rng.randint(2, 10))]
        doc[key] = value
        length += len(json.dumps({key: value}, ensure_ascii=False))
    return doc


def _form(doc: dict[str, object]) -> bytes:
    """Form-urlencoded, nested values as JSON text, as Android SDKs flatten their maps."""
    return urlencode({k: v if isinstance(v, str | int | float) else json.dumps(v) for k, v in doc.items()}).encode()


def _gzip(raw: bytes) -> bytes:
    """gzip without a timestamp in the header, so the corpus is the same bytes on every run."""
    return gzip.compress(raw, compresslevel=6, mtime=0)


# ----------------------------------------------------------------------------- categories

Built = tuple[str, str, list[tuple[str, str]], bytes]  # method, path, extra headers, body


def _api(rng: random.Random, i: int, leaks: dict[str, object], lo: int, hi: int, pool: _Events) -> Built:
    """A small API call: JSON or form body, or a GET whose query carries the fields."""
    target = rng.randint(lo + 60, hi - 120)
    style = rng.random()
    if style < 0.25:  # GET with a long query, as ad and config SDKs send
        params = {k: v if isinstance(v, str | int | float) else json.dumps(v) for k, v in leaks.items()}
        params |= {"ts": rng.randrange(1_700_000_000_000, 1_800_000_000_000), "sid": rng.randbytes(16).hex()}
        query = urlencode(params)
        while len(query) < target - 30:
            field = {f"{rng.choice(WORDS)}_{len(params)}": rng.choice([rng.randint(0, 10**9), rng.choice(WORDS)])}
            params |= field
            query += "&" + urlencode(field)
        return "GET", f"/api/v{i % 3}/ad?{query}", [], b""
    path = f"/api/v{i % 3}/collect?v=3.2.{i % 10}"
    form = style < 0.5
    doc = _doc(rng, target, leaks)

    def render() -> bytes:
        return _form(doc) if form else json.dumps(doc, ensure_ascii=False).encode()

    body = render()
    while len(body) + len(path) > hi and len(doc) > len(leaks) + 2:  # url-encoding grew it: drop filler
        doc.popitem()
        body = render()
    while len(body) + len(path) < lo:  # url-encoding shrank it (no quotes): add filler
        doc[f"pad_{len(doc)}"] = " ".join(rng.choice(WORDS) for _ in range(8))
        body = render()
    if form:
        return "POST", path, [("Content-Type", "application/x-www-form-urlencoded")], body
    headers = [("Content-Type", "application/json; charset=utf-8")]
    if leaks and rng.random() < 0.2:  # some SDKs put the device id in a header instead
        value = next(iter(leaks.values()))
        if isinstance(value, str):
            headers.append(("X-Device-Info", quote(value, safe="")))
    return "POST", path, headers, body


class _Events:
    """A pool of ready-made event objects; batches and logs are assembled from them.

    Serialising hundreds of fresh objects per megabyte made the corpus slower to build
    than to scan; a pool of a few hundred, each sent with its own timestamp and id, keeps
    the text varied enough that gzip compresses it like real event logs (3-4x).
    """

    def __init__(self, rng: random.Random, count: int = 400) -> None:
        self.tails = [json.dumps({k: v for k, v in _doc(rng, rng.randint(200, 700)).items() if k not in ("ts", "sid")},
                                 ensure_ascii=False)[1:-1] for _ in range(count)]
        sample = ",".join(self.event(rng) for _ in range(200)).encode()
        self.gzip_ratio = len(sample) / len(_gzip(sample))

    def event(self, rng: random.Random) -> str:
        ts = rng.randrange(1_700_000_000_000, 1_800_000_000_000)
        return f'{{"ts":{ts},"sid":"{rng.getrandbits(128):032x}",{rng.choice(self.tails)}}}'


def _batch(rng: random.Random, i: int, leaks: dict[str, object], lo: int, hi: int, pool: _Events) -> Built:
    """An SDK's event batch, sized by its bytes on the wire, whatever the packaging."""
    target = rng.randint(lo, hi - 200)
    style = rng.choice(["plain", "gzip", "gzip", "b64gzip"])
    header = json.dumps({"appkey": "5f8d2e1a", "sdk": "9.6.3", **leaks}, ensure_ascii=False)
    events: list[str] = []

    def render() -> bytes:
        raw = f'{{"header":{header},"batch":[{",".join(events)}]}}'.encode()
        if style == "plain":
            return raw
        packed = _gzip(raw)
        return base64.b64encode(packed) if style == "b64gzip" else packed

    # aim from the pool's known compression ratio, then correct from the one measured:
    # usually one or two compressions per batch
    ratio = {"plain": 1.0, "gzip": pool.gzip_ratio, "b64gzip": pool.gzip_ratio * 3 / 4}[style]
    raw_len = len(header) + 16
    body = render()
    while not lo <= len(body) <= hi - 100:
        if len(body) < target:
            want = int((target - len(body)) * ratio * 1.02) + 1
            while want > 0:
                events.append(pool.event(rng))
                want -= len(events[-1]) + 1
                raw_len += len(events[-1]) + 1
        else:  # overshot: drop about the surplus
            drop = int((len(body) - target) * ratio)
            while drop > 0 and len(events) > 1:
                drop -= len(events[-1]) + 1
                raw_len -= len(events.pop()) + 1
        body = render()
        ratio = raw_len / len(body)
    headers = [("Content-Type", "application/json")]
    if style == "gzip":
        headers.append(("Content-Encoding", "gzip"))
    elif style == "b64gzip":
        headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Msg-Type", "envelope/json")]
    return "POST", f"/unify_logs?seq={i}", headers, body


def _jpeg(rng: random.Random, size: int) -> bytes:
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return head + rng.randbytes(size - len(head) - 2) + b"\xff\xd9"


def _binary(rng: random.Random, i: int, leaks: dict[str, object], lo: int, hi: int, pool: _Events) -> Built:
    """An image upload: a JPEG as the whole body, or as one part of a multipart form."""
    size = rng.randint(lo + 600, hi - 200)
    query = "&".join(f"{quote(k)}={quote(v if isinstance(v, str) else json.dumps(v))}" for k, v in leaks.items())
    if rng.random() < 0.5:
        path = f"/v1/upload/avatar?n={i}" + (f"&{query}" if query else "")
        return "PUT", path, [("Content-Type", "image/jpeg")], _jpeg(rng, size - len(path))
    boundary = f"----consentscope{rng.getrandbits(64):016x}"
    fields = {"uid": str(rng.randint(10**7, 10**8)), **{k: str(v) if not isinstance(v, list) else json.dumps(v)
                                                         for k, v in leaks.items()}}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="IMG_{i:05d}.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    path = f"/v1/upload/review?n={i}"
    fixed = sum(map(len, parts)) + len(head) + len(tail) + len(path)
    body = b"".join(parts) + head + _jpeg(rng, size - fixed) + tail
    return "POST", path, [("Content-Type", f"multipart/form-data; boundary={boundary}")], body


def _large(rng: random.Random, i: int, leaks: dict[str, object], lo: int, hi: int, pool: _Events) -> Built:
    """A crash or behaviour log upload: one JSON event per line."""
    target = rng.randint(lo, hi - 64)
    lines: list[str] = []
    length = 0
    where = rng.randint(0, 50)  # the planted fields ride on one line near the start
    while length < target:
        if leaks and len(lines) == where:
            lines.append(json.dumps(_doc(rng, 500, leaks), ensure_ascii=False))
        else:
            lines.append(pool.event(rng))
        length += len(lines[-1].encode()) + 1
    body = "\n".join(lines).encode()
    if len(body) > hi - 64:  # the last line overshot: cut at a line break below the cap
        body = body[: body.rindex(b"\n", 0, hi - 64)]
    return "POST", f"/rqd/log?n={i}", [("Content-Type", "text/plain")], body


_BUILDERS = {"api": _api, "sdk_batch": _batch, "binary": _binary, "large": _large}


def _deal(rng: random.Random, n: int) -> list[str]:
    """Exactly the promised share of each category (largest remainder), in random order."""
    counts = {name: int(n * share) for name, share, _, _ in MIX}
    rest = sorted(MIX, key=lambda m: n * m[1] - int(n * m[1]), reverse=True)
    for name, *_ in rest[: n - sum(counts.values())]:
        counts[name] += 1
    deck = [name for name, _, _, _ in MIX for _ in range(counts[name])]
    rng.shuffle(deck)
    return deck


def generate_corpus_with_truth(n: int, seed: int = 1) -> list[tuple[RequestRecord, str, tuple[str, ...]]]:
    """The corpus with, per request, its category and the names of the fields planted in it.

    The planted names (``d_imei``, ``lat``, ``pkgs``…) let a test check that a leak is found
    where one was put; the categories let it check the mix.
    """
    rng = random.Random(seed)
    pool = _Events(rng)
    deck = _deal(rng, n)
    leaking = set(rng.sample(range(n), round(n * LEAK_SHARE)))
    limits = {name: (lo, hi) for name, _, lo, hi in MIX}
    out: list[tuple[RequestRecord, str, tuple[str, ...]]] = []
    for i, category in enumerate(deck):
        leaks = _leaks(rng) if i in leaking else {}
        if category == "api":
            host = rng.choice(FIRST_PARTY[:1] + SDK_HOSTS)
        elif category == "sdk_batch":
            host = rng.choice(SDK_HOSTS)
        else:
            host = rng.choice([*FIRST_PARTY[1:], "android.bugly.qq.com"])
        method, path, headers, body = _BUILDERS[category](rng, i, leaks, *limits[category], pool)
        record = RequestRecord(
            flow_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            time=START + i * SPACING_S, method=method, scheme="https", host=host, port=443, path=path,
            headers=(("Host", host), ("User-Agent", rng.choice(USER_AGENTS)), ("Accept-Encoding", "gzip"), *headers),
            body=body, sni=host, server_ip=SERVER_IPS[host],
        )
        out.append((record, category, tuple(leaks)))
    return out


def generate_corpus(n: int, seed: int = 1) -> list[RequestRecord]:
    """``n`` requests of the realistic mix; the same ``n`` and ``seed`` give the same records."""
    return [record for record, _, _ in generate_corpus_with_truth(n, seed)]


def wire_size(record: RequestRecord) -> int:
    """What the size mix is measured on: the body as sent plus the path and query."""
    return len(record.body) + len(record.path)


def write_flow_file(records: Sequence[RequestRecord], path: str | Path) -> int:
    """Write ``records`` as a mitmproxy flow file, each with a small JSON response.

    The flow builder lives beside the demo script (``captures/_flowbuild.py``) so the demo
    session and the corpus are written by the same code; returns the number of flows.
    """
    captures = str(Path(__file__).resolve().parent.parent / "captures")
    if captures not in sys.path:
        sys.path.insert(0, captures)
    from _flowbuild import write_records

    return write_records(records, path)


def uploads(n: int) -> tuple[list[RequestRecord], list[RequestRecord]]:
    """The SDK batch uploads (under 64 KB) and the log uploads (JSON Lines) of an
    ``n``-request mix: the heavy corpora of the same-run comparisons."""
    mix = generate_corpus_with_truth(n)
    batches = [r for r, category, _ in mix if category == "sdk_batch" and len(r.body) < 64 * 1024]
    return batches, [r for r, category, _ in mix if category == "large"]
