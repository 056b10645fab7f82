"""Sessions built from real objects (real classifier, real findings, real timeline) for rule tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from consentscope.consent import ConsentTimeline, TimelineEvent
from consentscope.destination import DestinationClassifier
from consentscope.detectors import Finding, GeoPoint
from consentscope.model import AuditContact, AuditFinding, SessionResult
from consentscope.profile import AppInfo, Profile
from consentscope.readers import Contact
from consentscope.rules import Thresholds, Violation, evaluate

CLASSIFIER = DestinationClassifier(["demoshop.com.cn"])


def profile(app_type: str = "online_shopping", precision_m: float | None = None) -> Profile:
    location = GeoPoint(39.9087, 116.3975, precision_m) if precision_m is not None else None
    return Profile(path="", app=AppInfo(package="com.example", app_type=app_type,
                                        first_party_domains=("demoshop.com.cn",)), location=location)


SHOP = profile()
NO_TYPE = Profile(path="")

def timeline(events: Iterable[tuple]) -> ConsentTimeline:
    return ConsentTimeline(TimelineEvent(e[0], e[1], e[2] if len(e) > 2 else "", "test") for e in events)


def item(t: float, host: str, dtype: str, tl: ConsentTimeline, *, flow: str | None = None, evidence: str = "…",
         encoding: tuple[str, ...] = (), location: str = "url.query:x", match: tuple[int, int] = (0, 0),
         url: str | None = None) -> AuditFinding:
    return AuditFinding("s", flow or f"f{t:g}", t, "POST", url or f"https://{host}/x", host, CLASSIFIER.classify(host),
                        Finding(dtype, encoding, location, evidence, match=match), tl.phase_at(t))


def contact(t: float, host: str, tl: ConsentTimeline, via: str = "tls-sni") -> AuditContact:
    return AuditContact("s", Contact(t, host, "203.0.113.9", 443, via, "TLSv1.3"), CLASSIFIER.classify(host),
                        tl.phase_at(t))


def session(items: Sequence[tuple], events: Iterable[tuple] = (), contacts: Iterable[tuple] = (),
            sid: str = "s") -> SessionResult:
    """``items``: (time, host, data_type[, flow id]); ``events``: (time, name[, detail]);
    ``contacts``: (time, host)."""
    tl = timeline(events)
    fs = [item(i[0], i[1], i[2], tl, flow=i[3] if len(i) > 3 else None) for i in items]
    cs = [contact(c[0], c[1], tl) for c in contacts]
    return SessionResult(sid, sid, (), "com.example", sorted(fs, key=AuditFinding.sort_key), tl.events, len(fs), cs,
                         Counter(), [], None, None)


def session_of(findings: Sequence[AuditFinding], tl: ConsentTimeline | None = None,
               contacts: Sequence[AuditContact] = ()) -> SessionResult:
    """A session of findings built one by one (custom evidence, encodings, flows)."""
    events = tl.events if tl is not None else ()
    return SessionResult("s", "s", (), "com.example", sorted(findings, key=AuditFinding.sort_key), events,
                         len(findings), list(contacts), Counter(), [], None, None)


def violations(result: SessionResult, prof: Profile = SHOP, **kw: object) -> list[Violation]:
    return evaluate(result, prof, **kw)  # type: ignore[arg-type]


def only(result: SessionResult, rule: str, prof: Profile = SHOP, th: Thresholds | None = None) -> list[Violation]:
    return [v for v in evaluate(result, prof, thresholds=th) if v.rule == rule]
