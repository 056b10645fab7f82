"""Regenerate ``ownership_v2fly.csv`` from a local checkout of v2fly/domain-list-community.

Maintainer tool, not shipped. v2fly's data is MIT-licensed (see ``NOTICE-v2fly``); we keep
only plain registrable domains of the files named below, attributed to the company and
group we checked, with the file they came from (the full source URL is ``v2fly_source`` in
tracker_db.toml plus the file name). ``include:``,
``full:``, ``regexp:`` and ``keyword:`` lines are not followed: each file we use is named
here on purpose, and ``EXCLUDE`` drops entries that are not the company's own.

    python tracker_db/tools/seed_ownership_v2fly.py /path/to/domain-list-community COMMIT
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import tldextract

# v2fly file -> (company, group, country)
FILES: dict[str, tuple[str, str, str]] = {
    "alibaba": ("Alibaba", "Alibaba", "CN"),
    "alibabacloud": ("Alibaba Cloud", "Alibaba", "CN"),
    "aliyun": ("Alibaba Cloud", "Alibaba", "CN"),
    "aligames": ("Alibaba Games", "Alibaba", "CN"),
    "amap": ("AutoNavi (Gaode)", "Alibaba", "CN"),
    "umeng": ("Umeng", "Alibaba", "CN"),
    "uc": ("UCWeb", "Alibaba", "CN"),
    "youku": ("Youku", "Alibaba", "CN"),
    "eleme": ("Ele.me", "Alibaba", "CN"),
    "dingtalk": ("DingTalk", "Alibaba", "CN"),
    "cainiao": ("Cainiao", "Alibaba", "CN"),
    "tencent": ("Tencent", "Tencent", "CN"),
    "qcloud": ("Tencent Cloud", "Tencent", "CN"),
    "tencent-games": ("Tencent Games", "Tencent", "CN"),
    "tencent-tme": ("Tencent Music Entertainment", "Tencent", "CN"),
    "sogou": ("Sogou", "Tencent", "CN"),
    "dnspod": ("DNSPod", "Tencent", "CN"),
    "bytedance": ("ByteDance", "ByteDance", "CN"),
    "douyin": ("Douyin", "ByteDance", "CN"),
    "tiktok": ("TikTok", "ByteDance", "SG"),
    "lark": ("Feishu / Lark", "ByteDance", "CN"),
    "volcengine": ("Volcengine", "ByteDance", "CN"),
    "baidu": ("Baidu", "Baidu", "CN"),
    "iqiyi": ("iQIYI", "Baidu", "CN"),
    "netease": ("NetEase", "NetEase", "CN"),
    "xiaomi": ("Xiaomi", "Xiaomi", "CN"),
    "xiaomi-ai": ("Xiaomi", "Xiaomi", "CN"),
    "xiaomi-iot": ("Xiaomi", "Xiaomi", "CN"),
    "huawei": ("Huawei", "Huawei", "CN"),
    "huaweicloud": ("Huawei Cloud", "Huawei", "CN"),
    "huawei-dev": ("Huawei", "Huawei", "CN"),
    "honor": ("Honor", "Honor", "CN"),
    "oppo": ("OPPO", "OPPO", "CN"),
    "oneplus": ("OnePlus", "OPPO", "CN"),
    "vivo": ("vivo", "vivo", "CN"),
    "meizu": ("Meizu", "Meizu", "CN"),
    "kuaishou": ("Kuaishou", "Kuaishou", "CN"),
    "sina": ("Sina / Weibo", "Sina", "CN"),
    "jd": ("JD.com", "JD.com", "CN"),
    "meituan": ("Meituan", "Meituan", "CN"),
    "pinduoduo": ("PDD Holdings", "PDD Holdings", "CN"),
    "qihoo360": ("Qihoo 360", "Qihoo 360", "CN"),
    "bilibili": ("Bilibili", "Bilibili", "CN"),
    "xiaohongshu": ("Xiaohongshu", "Xiaohongshu", "CN"),
    "zhihu": ("Zhihu", "Zhihu", "CN"),
    "didi": ("DiDi", "DiDi", "CN"),
    "ctrip": ("Trip.com", "Trip.com", "CN"),
    "kingsoft": ("Kingsoft", "Kingsoft", "CN"),
    "chinamobile": ("China Mobile", "China Mobile", "CN"),
    "chinaunicom": ("China Unicom", "China Unicom", "CN"),
    "chinatelecom": ("China Telecom", "China Telecom", "CN"),
    "unionpay": ("China UnionPay", "China UnionPay", "CN"),
    "getui": ("Getui (Zhejiang Meiri Hudong)", "Getui", "CN"),
    "jiguang": ("Aurora Mobile (Jiguang)", "Aurora Mobile", "CN"),
    "growingio": ("GrowingIO", "GrowingIO", "CN"),
    "ishumei": ("Shumei", "Shumei", "CN"),
    "geetest": ("GeeTest", "GeeTest", "CN"),
    "tendcloud": ("TalkingData", "TalkingData", "CN"),
    "agora": ("Agora", "Agora", "CN"),
    "qiniu": ("Qiniu", "Qiniu", "CN"),
    "upai": ("Upyun", "Upyun", "CN"),
    "iflytek": ("iFlytek", "iFlytek", "CN"),
    "pgyer": ("Pgyer", "Pgyer", "CN"),
    "vaptcha": ("VAPTCHA", "VAPTCHA", "CN"),
    "qweather": ("QWeather", "QWeather", "CN"),
    "colorfulclouds": ("ColorfulClouds (Caiyun)", "ColorfulClouds", "CN"),
    "moji": ("Moji Weather", "Moji", "CN"),
    "youzan": ("Youzan", "Youzan", "CN"),
    "wangsu": ("Wangsu", "Wangsu", "CN"),
    "baishancloud": ("BaishanCloud", "BaishanCloud", "CN"),
    "ucloud": ("UCloud", "UCloud", "CN"),
    "qingcloud": ("QingCloud", "QingCloud", "CN"),
    "ctyun": ("China Telecom Cloud", "China Telecom", "CN"),
    "unitychina": ("Unity China", "Unity Software", "CN"),
    "unity": ("Unity Technologies", "Unity Software", "US"),
    "adjust": ("Adjust", "AppLovin", "DE"),
    "supersonic": ("ironSource", "Unity Software", "IL"),
    "segment": ("Twilio Segment", "Twilio", "US"),
    "sentry": ("Sentry", "Sentry", "US"),
    "google": ("Google", "Alphabet", "US"),
    "firebase": ("Google", "Alphabet", "US"),
    "googlefcm": ("Google", "Alphabet", "US"),
    "android": ("Google", "Alphabet", "US"),
    "google-play": ("Google", "Alphabet", "US"),
    "youtube": ("Google", "Alphabet", "US"),
    "meta": ("Meta", "Meta", "US"),
    "facebook": ("Meta", "Meta", "US"),
    "facebook-dev": ("Meta", "Meta", "US"),
    "instagram": ("Meta", "Meta", "US"),
    "whatsapp": ("Meta", "Meta", "US"),
    "messenger": ("Meta", "Meta", "US"),
    "microsoft": ("Microsoft", "Microsoft", "US"),
    "azure": ("Microsoft", "Microsoft", "US"),
    "bing": ("Microsoft", "Microsoft", "US"),
    "apple": ("Apple", "Apple", "US"),
    "icloud": ("Apple", "Apple", "US"),
    "amazon": ("Amazon", "Amazon", "US"),
    "aws": ("Amazon Web Services", "Amazon", "US"),
    "twitter": ("X Corp", "X Corp", "US"),
    "yandex": ("Yandex", "Yandex", "RU"),
    "samsung": ("Samsung", "Samsung", "KR"),
    "cloudflare": ("Cloudflare", "Cloudflare", "US"),
    "akamai": ("Akamai", "Akamai", "US"),
    "fastly": ("Fastly", "Fastly", "US"),
    "mapbox": ("Mapbox", "Mapbox", "US"),
    "intercom": ("Intercom", "Intercom", "US"),
    "zendesk": ("Zendesk", "Zendesk", "US"),
    "stripe": ("Stripe", "Stripe", "US"),
    "paypal": ("PayPal", "PayPal", "US"),
    "twilio": ("Twilio", "Twilio", "US"),
    "taboola": ("Taboola", "Taboola", "IL"),
    "openx": ("OpenX", "OpenX", "US"),
    "pubmatic": ("PubMatic", "PubMatic", "US"),
    "ogury": ("Ogury", "Ogury", "FR"),
    "line": ("LY Corporation (LINE)", "SoftBank", "JP"),
    "kakao": ("Kakao", "Kakao", "KR"),
    "naver": ("Naver", "Naver", "KR"),
    "vk": ("VK", "VK", "RU"),
    "snap": ("Snap", "Snap", "US"),
    "spotify": ("Spotify", "Spotify", "SE"),
    "hcaptcha": ("Intuition Machines (hCaptcha)", "Intuition Machines", "US"),
}

#: Entries of the files above that are not the company's own domain.
EXCLUDE = {"segmentify.com", "api2.amplitude.com"}


def domains(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if entry.startswith("domain:"):
            entry = entry[len("domain:") :]
        if not entry or ":" in entry or "." not in entry:
            continue
        out.append(entry.lower())
    return out


def main(repo: str, commit: str) -> None:
    """Write the CSV; the commit goes into tracker_db.toml (``v2fly_source``) by hand."""
    ext = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    rows: dict[str, list[str]] = {}
    for name, (company, group, country) in FILES.items():
        for d in domains(Path(repo) / "data" / name):
            e = ext(d)
            if d in EXCLUDE or not e.suffix or f"{e.domain}.{e.suffix}" != d:
                continue
            rows.setdefault(d, [d, company, group, country, name])
    out = Path(__file__).resolve().parent.parent / "ownership_v2fly.csv"
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["domain", "company", "group", "country", "v2fly_file"])
        for d in sorted(rows):
            w.writerow(rows[d])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
