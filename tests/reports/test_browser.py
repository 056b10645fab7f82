"""The HTML report in a real headless Chromium: it renders the verdict and the SVG timeline, and
script planted in captured traffic (URL, body evidence, event details) never runs.

Needs Debian's ``chromium`` (``make test`` installs it where it can); skipped with the reason
otherwise.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from consentscope.model import EVENTS
from consentscope.reports.html_report import render_html
from consentscope.reports.svg_timeline import BAND_COLOURS
from consentscope.session import judge
from tests.reports.sessions import IMEI, PROFILE_PATH, ROOT, hostile_session

TITLE = "consentscope: hostile"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (`make test` installs Debian's chromium when it runs as root)")
    return path


def run(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def screenshot(chromium: str, tmp: Path, shot: Path, page: Path, size: str) -> None:
    """A PNG of the whole page as painted. Without the two waits, a busy machine once gave
    a shot of the header alone (the rest not yet composited): the capture waits for the
    page's virtual time to run out idle and for every compositor stage of the frame."""
    run(chromium, tmp, f"--window-size={size}", "--hide-scrollbars", "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=5000", f"--screenshot={shot}", page.as_uri())


def dump_dom(chromium: str, page: Path, tmp: Path) -> str:
    return run(chromium, tmp, "--virtual-time-budget=2000", "--dump-dom", page.as_uri()).stdout


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title" and "body" not in {t for t, _ in self.tags}  # the document's, not SVG's

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def parse(dom: str) -> Dom:
    d = Dom()
    d.feed(dom)
    return d


def test_hostile_report_renders_and_planted_script_stays_inert(chromium: str, tmp_path: Path) -> None:
    result, prof = hostile_session()
    for lang in ("en", "zh"):
        page = tmp_path / f"hostile-{lang}.html"
        page.write_text(render_html(judge([result], prof), title=TITLE, lang=lang), encoding="utf-8")
        dom = dump_dom(chromium, page, tmp_path)
        d = parse(dom)
        assert d.title == TITLE  # each planted payload would have changed it
        tags = {t for t, _ in d.tags}
        assert tags.isdisjoint({"script", "img", "iframe"}) and "gone" not in dom.split("<body", 1)[1][:300]
        assert not [(t, k) for t, a in d.tags for k in a if k.startswith("on")]
        verdict = {a["data-category"]: a["data-status"] for t, a in d.tags if t == "tr" and "data-category" in a}
        assert verdict["MIIT-1"] == "violation" and len(verdict) == 8
        assert sum(1 for t, a in d.tags if t == "circle" and a.get("class") == "tx") == len(result.findings)
        assert [t for t, _ in d.tags].count("svg") == 1
        assert "&lt;script&gt;document.title='pwned'" in dom  # shown as text
        assert ("人工核查清单" in dom) is (lang == "zh")  # the checklist heading in the chosen language


def test_replayed_demo_renders_through_the_cli(chromium: str, tmp_path: Path) -> None:
    from mitmproxy import io as mio
    from mitmproxy.test import tflow

    f = tflow.tflow(resp=True)
    f.request.host = "ulogs.umeng.com"
    f.request.headers["Host"] = "ulogs.umeng.com"
    f.request.path = f"/x?imei={IMEI}&n=<script>document.title='pwned';document.body.innerHTML='gone'</script>"
    f.request.content = f'{{"imei":"{IMEI}","x":"<img src=x onerror=document.title=1>"}}'.encode()
    f.request.headers["Content-Type"] = "application/json"
    capture = tmp_path / "evil.mitm"
    with capture.open("wb") as fh:
        mio.FlowWriter(fh).add(f)
    for cap, name in ((capture, "evil"), (ROOT / "captures" / "demo_session.mitm", "demo")):
        html = tmp_path / f"{name}.html"
        r = subprocess.run(
            [sys.executable, "-m", "consentscope", "replay", str(cap), "--profile", str(PROFILE_PATH),
             "--consent-marker", "/v1/privacy/consent", "--db", "", "-q", "--html", str(html)],
            capture_output=True, text=True, timeout=300,
        )
        assert r.returncode == 0, r.stderr
        d = parse(dump_dom(chromium, html, tmp_path))
        assert d.title == "consentscope: Consent Demo Shop"
        assert {t for t, _ in d.tags}.isdisjoint({"script", "img"})
    dom = dump_dom(chromium, tmp_path / "demo.html", tmp_path)
    assert dom.count('class="tx"') == 30 and 'class="event"' in dom and 'data-rule="MIIT-1.2"' in dom


# ----------------------------------------------------------------------------- pixels


def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """Width, height, bytes per pixel and the unfiltered pixel rows of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, bytearray(), 0
    height = bpp = 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    stride = width * bpp
    raw = zlib.decompressobj().decompress(bytes(idat), (stride + 1) * height)
    out, prev = bytearray(), bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return width, height, bpp, bytes(out)


def test_the_timeline_is_painted_red_before_and_green_after_consent(chromium: str, tmp_path: Path) -> None:
    result, prof = hostile_session()
    page = tmp_path / "paint.html"
    page.write_text(render_html(judge([result], prof), title=TITLE), encoding="utf-8")
    shot = tmp_path / "paint.png"
    screenshot(chromium, tmp_path, shot, page, "1200,1400")
    _, _, bpp, pixels = png_pixels(shot.read_bytes())
    rgb = {bytes(pixels[i:i + 3]) for i in range(0, len(pixels), bpp)}

    def colour(name: str) -> bytes:
        return bytes.fromhex(BAND_COLOURS[name].lstrip("#"))

    assert colour("before-consent") in rgb and colour("after-consent") in rgb


def test_unreadable_traffic_shows_coverage_and_grey_verdicts(chromium: str, tmp_path: Path) -> None:
    """An encrypted session before consent: the first screen says what could not be read, and
    the categories the traffic cannot decide are grey "cannot tell", never green."""
    import random

    from captures._flowbuild import write_records
    from consentscope.detectors import RequestRecord

    rng = random.Random(5)
    t0 = 1_772_445_600.0
    records = [RequestRecord(f"f{i}", t0 + i, "POST", "https", host, 443, "/log",
                             (("Content-Type", "application/octet-stream"),),
                             bytes(rng.getrandbits(8) for _ in range(500)))
               for i, host in enumerate(("ulogs.umeng.com", "sdk.e.qq.com"))]
    capture = tmp_path / "opaque.mitm"
    write_records(records, capture)
    for lang, line in (("en", "0 of 2 requests readable"), ("zh", "2 个请求中 0 个可读")):
        html = tmp_path / f"opaque-{lang}.html"
        r = subprocess.run(
            [sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(PROFILE_PATH),
             "--consent-at", "2026-03-02T10:01:00Z", "--db", "", "--html", str(html), "--lang", lang, "-q"],
            capture_output=True, text=True, timeout=300,
        )
        assert r.returncode == 0, r.stderr
        dom = dump_dom(chromium, html, tmp_path)
        d = parse(dom)
        assert line in dom
        cov = [a for t, a in d.tags if t == "div" and a.get("id") == "coverage"]
        assert cov and cov[0]["data-unread"] == "2" and "partial" in (cov[0].get("class") or "")
        hosts = {a["data-host"] for t, a in d.tags if t == "tr" and "data-host" in a}
        assert hosts == {"ulogs.umeng.com", "sdk.e.qq.com"}
        verdict = {a["data-category"]: a["data-status"] for t, a in d.tags if t == "tr" and "data-category" in a}
        assert verdict["MIIT-3"] == "suspected"  # the contact-only MIIT-3 (low confidence; "violation" in JSON)
        assert verdict["MIIT-1"] == verdict["MIIT-2"] == verdict["MIIT-4"] == "cannot-tell"
        assert "not-seen" not in verdict.values()
        css = dom[dom.index("<style"):dom.index("</style>")]
        grey = css[css.index(".v-cannot-tell{"):].split("}", 1)[0]
        assert "#eaecf0" in grey and "#dcfae6" not in grey  # grey, not the green of "not seen"


class SvgTexts(HTMLParser):
    """Every <text> of the report's SVG: its attributes and its own text (not its <title>)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.svgs: list[dict[str, str | None]] = []
        self.texts: list[tuple[dict[str, str | None], str]] = []
        self._text: dict[str, str | None] | None = None
        self._own = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svgs.append(dict(attrs))
        elif tag == "text":
            self._text, self._own = dict(attrs), ""
        elif tag == "title" and self._text is not None:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "text" and self._text is not None:
            self.texts.append((self._text, self._own))
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None and not self._in_title:
            self._own += data


def test_timeline_labels_stay_inside_and_render(chromium: str, tmp_path: Path) -> None:
    """The labels' extents, from the SVG as written: font size × characters is an upper bound of
    a label's width (no glyph, CJK included, is wider than 1 em); then one real rendering."""
    from tests.rules.builders import session

    result, prof = hostile_session()
    pages = {
        "hostile-zh": render_html(judge([result], prof), title=TITLE, lang="zh", tz="Asia/Shanghai"),
        "hostile-en": render_html(judge([result], prof), title=TITLE, tz="America/Los_Angeles"),
    }
    events = [(i * 3 % 100, e) for i, e in enumerate(EVENTS) if e not in ("refusal", "withdrawal")]
    events += [(100, "withdrawal"), (100, "personalization-off"), (99.5, "note")]
    items = [(i * 7 % 101, f"host-{i}.a-very-long-subdomain.example-tracker-{i}.com", "installed_apps")
             for i in range(30)]
    pages["crowded-zh"] = render_html(judge([session(items, events, contacts=[(100, "tsis.jpush.cn")])]),
                                      lang="zh", tz="Asia/Shanghai")
    for name, html in pages.items():
        p = SvgTexts()
        p.feed(html)
        [svg] = p.svgs
        width = float(svg["width"] or 0)
        assert p.texts and width == 960, name
        labels = {"event-label": 0, "tick": 0, "lane": 0}
        for attrs, text in p.texts:
            x, size = float(attrs["x"] or 0), float(attrs["font-size"] or 0)
            w = size * len(text)
            anchor = attrs.get("text-anchor") or "start"
            left = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
            assert left >= 0 and left + w <= width, (name, text, x, anchor)
            labels[attrs.get("class") or ""] = labels.get(attrs.get("class") or "", 0) + 1
        assert labels["event-label"] >= 2 and labels["tick"] >= 4 and labels["lane"] >= 5, (name, labels)
        page = tmp_path / f"{name}.html"
        page.write_text(html, encoding="utf-8")
        shot = tmp_path / f"{name}.png"
        screenshot(chromium, tmp_path, shot, page, "1280,2000")
        width_px, height_px, bpp, pixels = png_pixels(shot.read_bytes())
        assert (width_px, height_px) == (1280, 2000)
        rgb = {bytes(pixels[i:i + 3]) for i in range(0, len(pixels), bpp)}
        assert bytes.fromhex(BAND_COLOURS["before-consent"].lstrip("#")) in rgb, name
