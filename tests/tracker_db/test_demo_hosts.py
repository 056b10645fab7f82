"""The hosts of the demo capture map to the SDKs the demo report promises."""

from __future__ import annotations

import pytest

from consentscope.tracker_db import TrackerDB

DEMO = [
    ("ulogs.umeng.com", "Umeng", "Alibaba", "analytics"),
    ("plbslog.umeng.com", "Umeng", "Alibaba", "analytics"),
    ("sdk.open.talk.getui.net", "Getui", "Getui", "push"),
    ("c-hzgt2.getui.com", "Getui", "Getui", "push"),
    ("tsis.jpush.cn", "JPush", "Aurora Mobile", "push"),
    ("stats.jpush.cn", "JPush", "Aurora Mobile", "push"),
    ("mi.gdt.qq.com", "GDT", "Tencent", "advertising"),
    ("sdk.e.qq.com", "GDT", "Tencent", "advertising"),
    ("api-access.pangolin-sdk-toutiao.com", "Pangle", "ByteDance", "advertising"),
    ("android.bugly.qq.com", "Bugly", "Tencent", "crash-reporting"),
    ("apilocate.amap.com", "AMap", "Alibaba", "maps/location"),
    ("restapi.amap.com", "AMap", "Alibaba", "maps/location"),
    ("firebaseinstallations.googleapis.com", "Firebase", "Alphabet", None),
    ("app-measurement.com", "Firebase", "Alphabet", "analytics"),
    ("t.appsflyer.com", "AppsFlyer", "AppsFlyer", "attribution"),
    ("launches.appsflyersdk.com", "AppsFlyer", "AppsFlyer", "attribution"),
    ("api.mob.com", "MobTech", "MobTech", None),
    ("sdkdebugtest.datasink.sensorsdata.cn", "Sensors", "Sensors Data", "analytics"),
    ("graph.facebook.com", "Facebook", "Meta", None),
    ("in.appcenter.ms", "App Center", "Microsoft", None),
    ("o447951.ingest.sentry.io", "Sentry", "Sentry", "crash-reporting"),
    ("api.growingio.com", "GrowingIO", "GrowingIO", "analytics"),
    ("fp-it.fengkongcloud.com", "Shumei", "Shumei", "anti-fraud/device-fingerprint"),
    ("api.weibo.com", "Weibo", "Sina", "social/login"),
    ("open.weixin.qq.com", "WeChat", "Tencent", "social/login"),
    ("mapi.alipay.com", "Alipay", "Ant Group", "payment"),
    ("app.adjust.com", "Adjust", None, "attribution"),
    ("app.adjust.cn", "Adjust", None, "attribution"),
    ("api.mixpanel.com", "Mixpanel", "Mixpanel", "analytics"),
    ("api2.branch.io", "Branch", None, "attribution"),
    ("unityads.unity3d.com", "Unity Ads", "Unity Software", "advertising"),
    ("config.unityads.unitychina.cn", "Unity Ads", "Unity Software", "advertising"),
    ("de.rayjump.com", "Mintegral", "Mobvista", "advertising"),
    ("fp.tongdun.net", "Tongdun", "Tongdun", "anti-fraud/device-fingerprint"),
    ("api.geetest.com", "GeeTest", "GeeTest", "anti-fraud/device-fingerprint"),
    ("c.dun.163.com", "Yidun", "NetEase", "anti-fraud/device-fingerprint"),
    ("api.xmpush.xiaomi.com", "Xiaomi Push", "Xiaomi", "os-vendor-service"),
    ("hmma.baidu.com", "Mobstat", "Baidu", "analytics"),
    ("loc.map.baidu.com", "Baidu Location", "Baidu", "maps/location"),
    ("apis.map.qq.com", "Tencent Location", "Tencent", "maps/location"),
    ("iat-api.xfyun.cn", "iFlytek", "iFlytek", None),
    ("upload.qiniup.com", "Qiniu", "Qiniu", "cloud-storage"),
    ("203.107.1.1", "Alibaba Cloud HTTPDNS", "Alibaba", "httpdns"),
    ("119.29.29.29", "HTTPDNS", "Tencent", "httpdns"),
]


@pytest.mark.parametrize(("host", "sdk", "group", "category"), DEMO)
def test_demo_host(host: str, sdk: str, group: str | None, category: str | None) -> None:
    m = TrackerDB.shipped().lookup(host)
    assert m is not None, host
    assert sdk in m.sdk
    if group is not None:
        assert m.group == group
    if category is not None:
        assert m.category == category
