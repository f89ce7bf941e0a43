"""Self-contained HTML for ``mist view``: inline SVG charts, inline CSS, a few lines of inline JS.

Everything that comes from a trace file is untrusted: text goes through :func:`esc` (HTML-escaped,
quotes included) before it reaches markup, and the per-trace data the script renders is embedded
as JSON inside ``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, then put on
the page with ``textContent``/``setAttribute`` only. A Content-Security-Policy allows no network
access at all and only the page's own script (by hash).
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mist.cli._names import shorten_unique

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac"]
ERROR = "#d62728"
WARN = "#ff7f0e"


def esc(value: Any) -> str:
    """Text for HTML/SVG content or a double-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def json_for_script(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"


def empty_chart(message: str, width: int = 640, height: int = 60) -> str:
    return (f'<svg class="chart empty" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img"><text x="{width // 2}" y="{height // 2}" text-anchor="middle" class="muted">'
            f'{esc(message)}</text></svg>')


CHAR_W = 7  # px, about, of a character of the charts' 12px text


def _label_room(labels: Sequence[str], least: int, most: int) -> int:
    """Pixels left of a chart for its labels: ``least``, or more for labels made longer than
    planned (to tell two apart, see ``_names``), up to ``most``."""
    return max(least, min(most, 14 + CHAR_W * max(map(len, labels), default=0)))


def hbar_chart(items: Sequence[Tuple[str, float, str]], fmt: Callable[[float], str], *,
               width: int = 640, bar_h: int = 18, label_w: int = 190, title: str = "") -> str:
    """Horizontal bars: ``(label, value, tooltip)`` per row, longest value = full width; labels
    shortened in the middle to 28 characters, each still unique."""
    if not items:
        return empty_chart("no data")
    shown = shorten_unique((label for label, _, _ in items), 28)
    label_w = _label_room(list(shown.values()), label_w, width // 2)
    top = max((v for _, v, _ in items), default=0) or 1.0
    value_w = 96
    plot_w = width - label_w - value_w
    h = len(items) * (bar_h + 6) + 8
    out = [f'<svg class="chart" width="{width}" height="{h}" viewBox="0 0 {width} {h}" role="img" '
           f'aria-label="{esc(title)}">']
    for i, (label, value, tip) in enumerate(items):
        y = 4 + i * (bar_h + 6)
        w = max(1.0, plot_w * max(value, 0) / top) if value > 0 else 0.0
        short = shown[label]
        out.append(f'<g><title>{esc(tip)}</title>'
                   f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end">{esc(short)}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"></rect>'
                   f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h - 5}">{esc(fmt(value))}</text></g>')
    out.append("</svg>")
    return "".join(out)


def vbar_chart(items: Sequence[Tuple[str, float, str]], fmt: Callable[[float], str], *,
               width: int = 640, height: int = 220, title: str = "", color: str = PALETTE[0]) -> str:
    """Vertical bars over categories (agent steps): ``(label, value, tooltip)``."""
    if not items:
        return empty_chart("no data")
    left, bottom, top_pad = 64, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = max((v for _, v, _ in items), default=0) or 1.0
    n = len(items)
    slot = plot_w / n
    bw = max(1.0, slot * 0.8)
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{esc(title)}">']
    out.append(_y_axis(left, top_pad, plot_w, plot_h, 0.0, top, fmt))
    every = max(1, math.ceil(n / 20))
    for i, (label, value, tip) in enumerate(items):
        x = left + i * slot + (slot - bw) / 2
        h = plot_h * max(value, 0) / top
        y = top_pad + plot_h - h
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{color}">'
                   f'<title>{esc(tip)}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{height - 10}" text-anchor="middle" '
                       f'class="tick">{esc(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _y_axis(left: int, top: int, plot_w: float, plot_h: float, lo: float, hi: float,
            fmt: Callable[[float], str], ticks: int = 4) -> str:
    parts = []
    for k in range(ticks + 1):
        v = lo + (hi - lo) * k / ticks
        y = top + plot_h - plot_h * k / ticks
        parts.append(f'<line x1="{left}" x2="{left + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" class="grid"></line>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{esc(fmt(v))}</text>')
    return "".join(parts)


def latency_histograms(rows: Sequence[Tuple[str, List[int], Dict[str, Optional[float]], int]],
                       edges: Sequence[float], fmt: Callable[[Optional[float]], str], *,
                       width: int = 640, row_h: int = 46) -> str:
    """One log-scale latency histogram per operation, sharing the x axis; p50/p95/p99 ticks.

    ``rows``: ``(operation, counts per bin, {"p50": ms, ...}, calls)``; ``edges``: bin edges in ms.
    """
    if not rows or len(edges) < 2:
        return empty_chart("no latencies")
    shown = shorten_unique((row[0] for row in rows), 22)
    left, right = _label_room(list(shown.values()), 150, width // 3), 12
    plot_w = width - left - right
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])
    span = (hi - lo) or 1.0

    def x_of(ms: float) -> float:
        return left + plot_w * (math.log10(max(ms, edges[0])) - lo) / span

    h = len(rows) * row_h + 30
    out = [f'<svg class="chart" width="{width}" height="{h}" viewBox="0 0 {width} {h}" role="img" '
           f'aria-label="latency distribution per operation">']
    nb = len(edges) - 1
    for r, (label, counts, pct, calls) in enumerate(rows):
        y0 = 6 + r * row_h
        bar_area = row_h - 14
        top = max(counts) or 1
        short = shown[label]
        out.append(f'<text x="{left - 8}" y="{y0 + bar_area - 4}" text-anchor="end">{esc(short)}'
                   f'<title>{esc(label)}: {calls:,} calls</title></text>')
        for b in range(nb):
            c = counts[b]
            if not c:
                continue
            x1, x2 = x_of(edges[b]), x_of(edges[b + 1])
            bh = bar_area * c / top
            out.append(f'<rect x="{x1:.1f}" y="{y0 + bar_area - bh:.1f}" width="{max(0.8, x2 - x1 - 0.6):.1f}" '
                       f'height="{bh:.1f}" fill="{PALETTE[r % len(PALETTE)]}" opacity="0.85">'
                       f'<title>{esc(fmt(edges[b]))}–{esc(fmt(edges[b + 1]))}: {c:,}</title></rect>')
        for name, dash in (("p50", ""), ("p95", "3,2"), ("p99", "1,2")):
            v = pct.get(name)
            if v is None:
                continue
            x = x_of(v)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y0 + bar_area}" stroke="#222" '
                       f'stroke-dasharray="{dash}"><title>{name} {esc(fmt(v))}</title></line>')
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y0 + bar_area + 0.5}" '
                   f'y2="{y0 + bar_area + 0.5}" class="axis"></line>')
    # decade ticks
    ya = len(rows) * row_h + 14
    d = math.floor(lo)
    while d <= math.ceil(hi):
        v = 10 ** d
        if edges[0] <= v <= edges[-1]:
            x = x_of(v)
            out.append(f'<text x="{x:.1f}" y="{ya}" text-anchor="middle" class="tick">{esc(fmt(v))}</text>')
        d += 1
    out.append(f'<text x="{left}" y="{ya + 14}" class="tick">dashes: p50 ─ p95 ╌ p99 ┈ (log scale)</text>')
    out.append("</svg>")
    return "".join(out)


def time_chart(t0: int, t1: int, bars: Sequence[Tuple[int, int, float, str]],
               lines: Dict[str, List[Tuple[int, float]]], alerts: Sequence[Tuple[int, str, str, Optional[int]]],
               fmt_bar: Callable[[float], str], fmt_time: Callable[[int], str], *, width: int = 960,
               height: int = 200, y_lo: float = 0.0, y_hi: Optional[float] = None, title: str = "") -> str:
    """A time axis with bars (``(start_ns, end_ns, value, tooltip)``) or lines (name -> points),
    and alert markers (``(time_ns, level, tooltip, since_ns or None)``) as vertical lines at the
    time they fired, shaded back to ``since_ns`` (the estimated start of the change)."""
    left, right, top_pad, bottom = 64, 120 if lines else 12, 10, 26
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    span = max(1, t1 - t0)

    def x_of(t: int) -> float:
        return left + plot_w * (min(max(t, t0), t1) - t0) / span

    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{esc(title)}">']
    if bars:
        hi = y_hi if y_hi is not None else (max(v for _, _, v, _ in bars) or 1.0)
    else:
        vals = [v for pts in lines.values() for _, v in pts]
        hi = y_hi if y_hi is not None else (max(vals) if vals else 1.0)
        y_lo = min([y_lo] + vals) if vals else y_lo
    hi = hi if hi > y_lo else y_lo + 1.0

    def y_of(v: float) -> float:
        return top_pad + plot_h - plot_h * (v - y_lo) / (hi - y_lo)

    out.append(_y_axis(left, top_pad, plot_w, plot_h, y_lo, hi, fmt_bar))
    for a, b, v, tip in bars:
        x1, x2 = x_of(a), x_of(b)
        y = y_of(max(v, y_lo))
        out.append(f'<rect x="{x1:.1f}" y="{y:.1f}" width="{max(0.8, x2 - x1 - 0.5):.1f}" '
                   f'height="{top_pad + plot_h - y:.1f}" fill="{PALETTE[0]}"><title>{esc(tip)}</title></rect>')
    shown = shorten_unique(lines, 16)
    for i, (name, pts) in enumerate(sorted(lines.items())):
        color = PALETTE[(i + 1) % len(PALETTE)]
        if not pts:
            continue
        d = " ".join(f"{'M' if k == 0 else 'L'}{x_of(t):.1f},{y_of(v):.1f}" for k, (t, v) in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="1.6"><title>{esc(name)}</title></path>')
        if len(pts) <= 60:
            out.extend(f'<circle cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="2" fill="{color}"></circle>'
                       for t, v in pts)
        out.append(f'<text x="{left + plot_w + 8}" y="{top_pad + 12 + 14 * i}" fill="{color}">'
                   f'{esc(shown[name])}</text>')
    opacity = "1" if len(alerts) <= 40 else "0.55"
    for t, level, tip, since in alerts:
        if not t0 <= t <= t1:
            continue
        x = x_of(t)
        color = ERROR if level == "critical" else WARN
        band = ""
        if since is not None and len(alerts) <= 40:
            xs = x_of(since)
            band = (f'<rect x="{xs:.1f}" y="{top_pad}" width="{x - xs:.1f}" height="{plot_h}" fill="{color}" '
                    f'opacity="0.08" pointer-events="none"></rect>')
        out.append(f'<g class="alert" opacity="{opacity}"><title>{esc(tip)}</title>{band}'
                   f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_pad}" y2="{top_pad + plot_h}" stroke="{color}" '
                   f'stroke-width="1.5" stroke-dasharray="4,3"></line>'
                   f'<path d="M{x - 5:.1f},{top_pad - 1} L{x + 5:.1f},{top_pad - 1} L{x:.1f},{top_pad + 7}Z" '
                   f'fill="{color}"></path></g>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top_pad + plot_h + 0.5}" '
               f'y2="{top_pad + plot_h + 0.5}" class="axis"></line>')
    for k in range(5):
        t = t0 + span * k // 4
        out.append(f'<text x="{x_of(t):.1f}" y="{height - 8}" text-anchor="middle" class="tick">'
                   f'{esc(fmt_time(t))}</text>')
    out.append("</svg>")
    return "".join(out)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric_from: int = 1,
          classes: Optional[Sequence[str]] = None) -> str:
    """An HTML table; cells are escaped; columns from ``numeric_from`` are right-aligned."""
    out = ['<table><thead><tr>']
    out.extend(f'<th{" class=num" if i >= numeric_from else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    out.append("</tr></thead><tbody>")
    for r, row in enumerate(rows):
        cls = f' class="{esc(classes[r])}"' if classes and classes[r] else ""
        out.append(f"<tr{cls}>")
        out.extend(f'<td{" class=num" if i >= numeric_from else ""}>{esc(c)}</td>' for i, c in enumerate(row))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


CSS = """
:root{--fg:#1d2733;--muted:#6b7785;--line:#dde3ea;--bg:#fff;--panel:#f7f9fb;--err:#d62728;--warn:#e07b00}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
header{padding:16px 24px;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{font-size:18px;margin:0 0 4px}
main{padding:8px 24px 40px;max-width:1200px}
section{margin:22px 0}
h2{font-size:15px;margin:0 0 8px}
.muted,.tick{fill:var(--muted);color:var(--muted)}
.tick{font-size:11px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:150px}
.card b{display:block;font-size:17px}
.card.bad b{color:var(--err)}
.row{display:flex;flex-wrap:wrap;gap:28px}
svg.chart{display:block;max-width:100%;height:auto;font-size:12px;overflow:visible}
svg text{fill:var(--fg)}
.grid{stroke:#eef1f4}
.axis{stroke:#9aa5b1}
table{border-collapse:collapse;font-size:12.5px;margin-top:4px}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.err td{color:var(--err)}
select{font:inherit;padding:3px;max-width:100%}
#tree{font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin-top:8px}
#tree .n{white-space:nowrap}
#tree .err{color:var(--err)}
#tree .mk{font-weight:bold}
#tree .mk.e{color:var(--err)}
#tree .mk.s{color:var(--warn)}
#tree details{margin:0 0 2px 0;color:var(--muted)}
#tree pre{white-space:pre-wrap;word-break:break-word;margin:2px 0 6px;padding:6px;background:var(--panel);color:var(--fg)}
#marks p{margin:3px 0}
.note{color:var(--muted);font-size:12px}
"""

# Tiny renderer for the chosen trace: a waterfall (SVG) and the replay tree. Untrusted strings are
# only ever assigned with textContent / setAttribute.
SCRIPT = r"""
(function(){
"use strict";
var D=JSON.parse(document.getElementById("mist-data").textContent);
var NS="http://www.w3.org/2000/svg";
function h(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e;}
function s(tag,attrs){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}
function ms(v){return v==null?"-":(v>=1000?(v/1000).toFixed(2)+"s":(v>=10?v.toFixed(1):v.toFixed(2))+"ms");}
function label(n){return n.op+(n.m?" "+n.m:"")+(n.st!=null?" #"+n.st:"")+(n.r?" retry "+n.r:"");}
function waterfall(t){
  var box=document.getElementById("waterfall");box.textContent="";
  var rows=t.spans,W=960,R=70,RH=16,H=rows.length*RH+30,total=Math.max(t.dur,0.001);
  var L=rows.reduce(function(m,n){return Math.max(m,14+Math.min(n.d,12)*10+7*n.wl.length);},300);L=Math.min(L,520);
  var svg=s("svg",{"class":"chart",width:W,height:H,viewBox:"0 0 "+W+" "+H,role:"img","aria-label":"waterfall"});
  for(var k=0;k<=4;k++){var x=L+(W-L-R)*k/4;
    svg.appendChild(s("line",{x1:x,x2:x,y1:0,y2:H-22,"class":"grid"}));
    var tx=s("text",{x:x,y:H-8,"text-anchor":"middle","class":"tick"});tx.textContent=ms(total*k/4);svg.appendChild(tx);}
  rows.forEach(function(n,i){
    var y=i*RH+2,g=s("g",{}),tt=s("title",{});
    tt.textContent=label(n)+"  "+ms(n.lat)+"  "+(n.cs||"-")+(n.et?"  ERROR "+n.et:"");g.appendChild(tt);
    var lt=s("text",{x:4+Math.min(n.d,12)*10,y:y+12});
    lt.textContent=(n.mk?(n.mk.indexOf("e")>=0?"\u2717 ":"\u2193 "):"")+n.wl;
    if(n.err)lt.setAttribute("fill","#d62728");g.appendChild(lt);
    var x=L+(W-L-R)*(n.s/total),w=Math.max(1,(W-L-R)*(n.e/total));
    g.appendChild(s("rect",{x:x.toFixed(1),y:y+2,width:w.toFixed(1),height:RH-5,rx:2,
      fill:n.err?"#d62728":(n.m?"#4e79a7":"#9aa5b1")}));
    var vt=s("text",{x:(x+w+4).toFixed(1),y:y+12,"class":"tick"});vt.textContent=ms(n.e);g.appendChild(vt);
    svg.appendChild(g);});
  box.appendChild(svg);
}
function tree(t){
  var box=document.getElementById("tree");box.textContent="";
  var marks=document.getElementById("marks");marks.textContent="";
  t.marks.forEach(function(m){marks.appendChild(h("p",m.kind==="error"?"err":"",m.text));});
  if(!t.marks.length)marks.appendChild(h("p","note","no error and no score drop in this run"));
  t.spans.forEach(function(n){
    var row=h("div","n");row.style.paddingLeft=(n.d*18)+"px";
    if(n.mk){row.appendChild(h("span","mk "+(n.mk.indexOf("e")>=0?"e":"s"),n.mk.indexOf("e")>=0?"\u2717 ":"\u2193 "));}
    row.appendChild(h("span",n.err?"err":"",label(n)));
    var bits=[];
    if(n.ti||n.to)bits.push(n.ti.toLocaleString()+"\u2192"+n.to.toLocaleString()+" tok");
    if(n.cs)bits.push(n.cs);else if(n.u)bits.push("unpriced");
    bits.push(ms(n.lat));if(n.sc)bits.push(n.sc);
    row.appendChild(h("span","muted","  "+bits.join("  ")));
    if(n.et)row.appendChild(h("span","err","  ERROR "+n.et));
    box.appendChild(row);
    [["in",n.in],["out",n.out]].forEach(function(p){
      if(p[1]==null)return;var d=h("details");d.style.marginLeft=(n.d*18+22)+"px";
      d.appendChild(h("summary",null,p[0]+": "+p[1].replace(/\s+/g," ").slice(0,140)));
      d.appendChild(h("pre",null,p[1]));box.appendChild(d);});
  });
  var note=document.getElementById("trace-note");
  note.textContent=t.shown<t.total?("showing "+t.shown+" of "+t.total+" spans (sampled; marked spans always shown)"):"";
}
var sel=document.getElementById("trace-select");
function show(){var t=D.traces[+sel.value||0];if(t){waterfall(t);tree(t);}}
if(sel&&D.traces.length){sel.addEventListener("change",show);show();}
})();
"""


def script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def page(title: str, body: str, data: Any) -> str:
    """The whole document: CSP, CSS, body markup, embedded JSON data and the renderer script."""
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
           f"script-src '{script_hash(SCRIPT)}'; base-uri 'none'; form-action 'none'")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
        f"{body}\n"
        f'<script type="application/json" id="mist-data">{json_for_script(data)}</script>\n'
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    )
