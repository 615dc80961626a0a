"""An entity's neighbourhood as one self-contained HTML page (pyvis, vis-network inlined).

The page needs no network: pyvis's ``cdn_resources="in_line"`` inlines vis-network, the
Bootstrap tags its template always adds (unused here) are removed, and local images are
embedded as small data-URI thumbnails.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from typing import Optional

from mmkg.kg.queries import Neighbourhood

_TYPE_COLOURS = {"PER": "#e45756", "ORG": "#4c78a8", "LOC": "#54a24b", "MISC": "#b279a2"}
_POST_COLOUR = "#f2cf5b"
_IMAGE_COLOUR = "#9d9d9d"
# Large labels and short springs: a neighbourhood is small, and the view is fitted to it.
_OPTIONS = {
    "nodes": {"font": {"size": 22, "face": "sans-serif"}},
    "edges": {"font": {"size": 16, "align": "middle"}, "smooth": {"type": "continuous"},
              "arrows": {"to": {"enabled": True, "scaleFactor": 0.8}}},
    "physics": {"barnesHut": {"gravitationalConstant": -6000, "springLength": 140, "springConstant": 0.04},
                "stabilization": {"iterations": 400, "fit": True}},
    "interaction": {"hover": True, "tooltipDelay": 100},
}
_REMOTE_TAG = re.compile(
    r"<link[^>]*href=\"https?://[^>]*>|<script[^>]*src=\"https?://[^>]*>\s*</script>", re.IGNORECASE | re.DOTALL
)


def neighbourhood_html(hood: Neighbourhood, title: str, thumbnail_px: int = 96) -> str:
    from pyvis.network import Network

    net = Network(height="720px", width="100%", directed=True, cdn_resources="in_line", heading="")
    net.set_options(json.dumps(_OPTIONS))
    for e in hood.entities:
        net.add_node(e["key"], label=e["name"], title=f"{e['type']} entity: {e['name']}",
                     color=_TYPE_COLOURS.get(e["type"], "#888888"), size=30, borderWidth=3)
    for e in hood.others:
        net.add_node(e["key"], label=e["name"], title=f"{e['type']} entity: {e['name']}",
                     color=_TYPE_COLOURS.get(e["type"], "#888888"), size=20)
    for r in hood.relations:
        conf = r["confidence"]
        tip = (f"{r['type']} (confidence {conf:.2f}, by {', '.join(r['decided_by'])})\n"
               f"posts: {', '.join(r['posts'][:20])}") if conf is not None else r["type"]
        net.add_edge(r["head"], r["tail"], label=r["type"], title=tip, width=1 + 3 * (conf or 0))
    for p in hood.posts:
        post_node = f"post:{p['id']}"
        if post_node not in net.get_nodes():
            tip = f"post {p['id']}\n{_short(p['text'] or '', 400)}"
            net.add_node(post_node, label=_short(p["text"] or p["id"], 36), title=tip,
                         color=_POST_COLOUR, shape="box", font={"size": 14})
        net.add_edge(post_node, p["entity"], label="MENTIONS", color="#cccccc", dashes=True, font={"size": 11})
        if p["image"]:
            image_node = f"image:{p['image']}"
            if image_node not in net.get_nodes():
                thumb = _thumbnail(p["uri"], thumbnail_px)
                extra = {"shape": "image", "image": thumb} if thumb else {"shape": "square", "color": _IMAGE_COLOUR}
                net.add_node(image_node, label=" ", title=f"image {p['image']}\n{p['uri'] or ''}", size=40, **extra)
            net.add_edge(post_node, image_node, label="HAS_IMAGE", color="#cccccc", font={"size": 11})
    page = net.generate_html(notebook=False)
    page = _REMOTE_TAG.sub("", page)
    page = page.replace("<head>", f"<head>\n<title>{html.escape(title)}</title>", 1)
    return page


def write_neighbourhood_html(hood: Neighbourhood, path: str, title: str) -> str:
    page = neighbourhood_html(hood, title)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _thumbnail(uri: Optional[str], px: int) -> Optional[str]:
    """A JPEG data URI of a local image, or None when there is no readable local file."""
    if not uri or "://" in uri or not os.path.isfile(uri):
        return None
    try:
        from PIL import Image

        with Image.open(uri) as img:
            img.thumbnail((px, px))
            buf = io.BytesIO()
            img.convert("RGB").save(buf, format="JPEG", quality=80)
    except Exception:  # an unreadable image only loses its thumbnail
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
