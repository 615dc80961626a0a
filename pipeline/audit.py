"""Precision of a run's triples as a person judges it: a random sample as a sheet to fill in
(HTML to read, CSV to mark), and the marked sheet scored with Wilson 95 % intervals overall, per
label and per confidence band. The reading of the output that scores alone cannot give."""
from __future__ import annotations

import base64
import csv
import glob
import html
import math
import os
import random
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

BANDS: Tuple[Tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.8), (0.8, 1.0001))
FIELDS = ("n", "post_id", "head", "relation", "tail", "confidence", "decided_by", "image_id", "correct")
YES, NO = frozenset({"y", "yes", "1", "true"}), frozenset({"n", "no", "0", "false"})


class AuditError(ValueError):
    """Input the audit cannot work with; the message says what to do."""


def band_of(confidence: float) -> str:
    for lo, hi in BANDS:
        if lo <= confidence < hi:
            return f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}"
    return "?"


def read_triples(data_dir: str) -> List[dict]:
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(data_dir, "out", "triples-*.parquet")))
    if not files:
        raise AuditError(f"no triples in {data_dir}/out (run `mmkg run --data-dir {data_dir}` first)")
    rows = pq.read_table(files).to_pylist()
    if not rows:
        raise AuditError(f"the run in {data_dir} wrote no triples: nothing to audit")
    return rows


def sample(triples: Sequence[dict], n: int, by: Optional[str] = None, seed: int = 0) -> List[dict]:
    """``n`` triples drawn without replacement; ``by`` "label" or "confidence" splits ``n`` evenly
    over the strata (a stratum smaller than its share gives all it has, the rest go to others)."""
    rng = random.Random(seed)
    ordered = sorted(triples, key=lambda t: (t["post_id"], t["head"], t["relation"], t["tail"]))
    if by is None:
        return rng.sample(ordered, min(n, len(ordered)))
    key = (lambda t: t["relation"]) if by == "label" else (lambda t: band_of(t["confidence"]))
    strata: Dict[str, List[dict]] = defaultdict(list)
    for t in ordered:
        strata[key(t)].append(t)
    for rows in strata.values():
        rng.shuffle(rows)
    out: List[dict] = []
    while len(out) < n and any(strata.values()):
        for k in sorted(strata):
            if strata[k] and len(out) < n:
                out.append(strata[k].pop())
    return out


def wilson(successes: int, n: int, z: float = 1.96) -> Tuple[float, float]:
    """The Wilson score interval of a proportion (95 % for z = 1.96)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _thumbnail(path: Optional[str]) -> str:
    if not path or not os.path.isfile(path):
        return ""
    try:
        from PIL import Image
        import io

        with Image.open(path) as im:
            im.thumbnail((160, 160))
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=80)
        return f'<img src="data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode()}">'
    except (OSError, ValueError):
        return "(image unreadable)"


def _marked(text: str, head: str, tail: str) -> str:
    out = html.escape(text)
    for name, cls in ((head, "h"), (tail, "t")):
        if name:
            out = out.replace(html.escape(name), f'<mark class="{cls}">{html.escape(name)}</mark>', 1)
    return out


def write_sheet(rows: Sequence[dict], posts: Dict[str, Tuple[str, Optional[str]]], out_dir: str) -> Tuple[str, str]:
    """``posts``: post id -> (text, image path). Writes audit.html and audit.csv; returns both paths."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path, html_path = os.path.join(out_dir, "audit.csv"), os.path.join(out_dir, "audit.html")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for i, t in enumerate(rows, start=1):
            w.writerow({"n": i, **{k: t.get(k) for k in FIELDS[1:-1]}, "confidence": f"{t['confidence']:.3f}",
                        "correct": ""})
    cells = []
    for i, t in enumerate(rows, start=1):
        text, image = posts.get(t["post_id"], ("(post text not in the graph)", None))
        cells.append(f"<tr><td>{i}</td><td>{_marked(text, t['head'], t['tail'])}</td><td>{_thumbnail(image)}</td>"
                     f"<td>{html.escape(t['head'])}</td><td>{html.escape(t['relation'])}</td>"
                     f"<td>{html.escape(t['tail'])}</td><td>{t['confidence']:.3f}</td>"
                     f"<td>{html.escape(str(t.get('decided_by') or ''))}</td></tr>")
    with open(html_path, "w", encoding="utf-8") as f:
        f.write("<!doctype html><meta charset=utf-8><title>mmkg audit</title><style>"
                "body{font-family:sans-serif}td{border-top:1px solid #ccc;padding:4px;vertical-align:top}"
                "mark.h{background:#9cf}mark.t{background:#fc9}</style>"
                f"<p>Mark each row y or n in the column <code>correct</code> of {html.escape(csv_path)}: is the "
                "relation stated or clearly implied by the post, with the right head, tail and direction?</p>"
                "<table><tr><th>n</th><th>post</th><th>image</th><th>head</th><th>relation</th><th>tail</th>"
                "<th>confidence</th><th>decided by</th></tr>" + "".join(cells) + "</table>")
    return html_path, csv_path


def read_marks(csv_path: str) -> Tuple[List[Tuple[dict, bool]], int]:
    """(row, correct) for each marked row, and how many rows were left blank."""
    if not os.path.isfile(csv_path):
        raise AuditError(f"no such sheet: {csv_path}")
    marked, blank = [], 0
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"relation", "confidence", "correct"} - set(reader.fieldnames or ())
        if missing:
            raise AuditError(f"{csv_path}: not an audit sheet (no column {', '.join(sorted(missing))})")
        for line, row in enumerate(reader, start=2):
            v = (row.get("correct") or "").strip().lower()
            if not v:
                blank += 1
            elif v in YES or v in NO:
                marked.append((row, v in YES))
            else:
                raise AuditError(f"{csv_path}:{line}: correct must be y or n (or blank), got {row['correct']!r}")
    return marked, blank


def precision_table(marked: Iterable[Tuple[dict, bool]]) -> List[dict]:
    """Rows for overall, each label and each confidence band: n, correct, precision, Wilson 95 %."""
    groups: Dict[Tuple[str, str], List[bool]] = defaultdict(list)
    for row, ok in marked:
        groups[("all", "all")].append(ok)
        groups[("label", row["relation"])].append(ok)
        groups[("confidence", band_of(float(row["confidence"])))].append(ok)
    out = []
    for (kind, name), oks in sorted(groups.items(), key=lambda kv: ({"all": 0, "confidence": 1, "label": 2}[kv[0][0]], kv[0][1])):
        lo, hi = wilson(sum(oks), len(oks))
        out.append({"by": kind, "group": name, "n": len(oks), "correct": sum(oks),
                    "precision": sum(oks) / len(oks), "wilson_low": lo, "wilson_high": hi})
    return out
