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
import re
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

BANDS: Tuple[Tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.8), (0.8, 1.0001))
FIELDS = ("n", "post_id", "head", "relation", "tail", "confidence", "band", "decided_by", "image_id", "correct")
TRIPLE_COLUMNS = ("head", "relation", "tail", "confidence", "post_id")
YES, NO = frozenset({"y", "yes", "1"}), frozenset({"n", "no", "0"})


class AuditError(ValueError):
    """Input the audit cannot work with; the message says what to do."""


def band_of(confidence: float) -> str:
    for lo, hi in BANDS:
        if lo <= confidence < hi:
            return f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}"
    return "?"


def read_triples(data_dir: str, min_confidence: float = 0.0) -> List[dict]:
    """The run's triples (``DATA_DIR/out/triples-*.parquet``) at or above ``min_confidence``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not os.path.isdir(data_dir):
        raise AuditError(f"no data dir {data_dir} (--data-dir: the folder a `mmkg run` wrote)")
    files = sorted(glob.glob(os.path.join(data_dir, "out", "triples-*.parquet")))
    if not files:
        raise AuditError(f"no triples in {data_dir}/out (run `mmkg run --data-dir {data_dir}` first)")
    try:
        table = pq.read_table(files)
    except (OSError, pa.ArrowException) as e:
        raise AuditError(f"cannot read the triples in {data_dir}/out: {e}") from None
    missing = [c for c in TRIPLE_COLUMNS if c not in table.column_names]
    if missing:
        raise AuditError(f"{data_dir}/out: not triples of a run (no column {', '.join(missing)})")
    rows = [t for t in table.to_pylist() if t["confidence"] >= min_confidence]
    if not rows:
        cut = f" at or above confidence {min_confidence}" if min_confidence > 0 else ""
        raise AuditError(f"the run in {data_dir} wrote no triples{cut}: nothing to audit")
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
        return "(no image)" if not path else "(image not found)"
    try:
        import io

        from PIL import Image

        with Image.open(path) as im:
            im.thumbnail((160, 160))
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=80)
        return f'<img src="data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode()}">'
    except (OSError, ValueError):
        return "(image unreadable)"


def _find(text: str, name: str, avoid: Optional[Tuple[int, int]] = None) -> Optional[Tuple[int, int]]:
    """The first occurrence of ``name`` in ``text`` outside ``avoid`` (exact case first, then any)."""
    if not name:
        return None
    for flags in (0, re.IGNORECASE):
        for m in re.finditer(re.escape(name), text, flags):
            if avoid is None or m.end() <= avoid[0] or m.start() >= avoid[1]:
                return m.start(), m.end()
    return None


def marked(text: str, head: str, tail: str) -> str:
    """``text`` as HTML with the head and the tail marked (``mark.h``, ``mark.t``), each at its first
    occurrence, the tail's not inside the head's; a name not in the text is left unmarked."""
    h = _find(text, head)
    t = _find(text, tail, avoid=h)
    out, pos = [], 0
    for start, end, cls in sorted((*span, cls) for span, cls in ((h, "h"), (t, "t")) if span):
        out += [html.escape(text[pos:start]), f'<mark class="{cls}">{html.escape(text[start:end])}</mark>']
        pos = end
    return "".join(out) + html.escape(text[pos:])


def write_sheet(rows: Sequence[dict], posts: Dict[str, Tuple[str, Optional[str]]], out_dir: str) -> Tuple[str, str]:
    """``posts``: post id -> (text, image path). Writes audit.html and audit.csv; returns both paths."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path, html_path = os.path.join(out_dir, "audit.csv"), os.path.join(out_dir, "audit.html")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for i, t in enumerate(rows, start=1):
            w.writerow({"n": i, **{k: t.get(k) for k in FIELDS[1:-1]}, "confidence": f"{t['confidence']:.3f}",
                        "band": band_of(t["confidence"]), "correct": ""})
    cells = []
    for i, t in enumerate(rows, start=1):
        text, image = posts.get(t["post_id"], (None, None))
        post = "<em>(post text not in the graph)</em>" if text is None else marked(text, t["head"], t["tail"])
        cells.append(f"<tr><td>{i}</td><td>{post}</td><td>{_thumbnail(image)}</td>"
                     f"<td>{html.escape(t['head'])}</td><td>{html.escape(t['relation'])}</td>"
                     f"<td>{html.escape(t['tail'])}</td><td>{t['confidence']:.3f}</td>"
                     f"<td>{html.escape(str(t.get('decided_by') or ''))}</td>"
                     f"<td>{html.escape(t['post_id'])}</td></tr>")
    with open(html_path, "w", encoding="utf-8") as f:
        f.write("<!doctype html><meta charset=utf-8><title>mmkg audit</title><style>"
                "body{font-family:sans-serif}td{border-top:1px solid #ccc;padding:4px;vertical-align:top}"
                "mark.h{background:#9cf}mark.t{background:#fc9}</style>"
                f"<p>Mark each row y or n in the column <code>correct</code> of {html.escape(csv_path)}: is the "
                "relation stated or clearly implied by the post, with the right head, tail and direction? In the post, "
                '<mark class="h">head</mark> and <mark class="t">tail</mark> are marked.</p>'
                "<table><tr><th>n</th><th>post text</th><th>image</th><th>head</th><th>relation</th><th>tail</th>"
                "<th>confidence</th><th>decided by</th><th>post id</th></tr>" + "".join(cells) + "</table>")
    return html_path, csv_path


def read_marks(csv_path: str) -> Tuple[List[Tuple[dict, bool]], int]:
    """(row, correct) for each marked row, and how many rows were left blank. A row's ``band`` is
    the sheet's (the stratum it was drawn from), or derived from its confidence when absent."""
    if not os.path.isfile(csv_path):
        raise AuditError(f"no such sheet: {csv_path}")
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            return _marks(csv_path, csv.DictReader(f))
    except UnicodeDecodeError:
        raise AuditError(f"{csv_path}: not UTF-8 text (save the sheet as CSV, UTF-8)") from None


def _marks(csv_path: str, reader: csv.DictReader) -> Tuple[List[Tuple[dict, bool]], int]:
    missing = {"relation", "confidence", "correct"} - set(reader.fieldnames or ())
    if missing:
        raise AuditError(f"{csv_path}: not an audit sheet (no column {', '.join(sorted(missing))})")
    marks, blank = [], 0
    for line, row in enumerate(reader, start=2):
        v = (row.get("correct") or "").strip().lower()
        if not v:
            blank += 1
            continue
        if v not in YES and v not in NO:
            raise AuditError(f"{csv_path}:{line}: correct must be y/n, yes/no, 1/0 or blank, got {row['correct']!r}")
        try:
            confidence = float(row["confidence"])
        except (TypeError, ValueError):
            raise AuditError(f"{csv_path}:{line}: confidence is not a number: {row['confidence']!r}") from None
        marks.append(({**row, "band": row.get("band") or band_of(confidence)}, v in YES))
    return marks, blank


def precision_table(marks: Iterable[Tuple[dict, bool]]) -> List[dict]:
    """Rows for overall, each label and each confidence band: n, correct, precision, Wilson 95 %."""
    groups: Dict[Tuple[str, str], List[bool]] = defaultdict(list)
    for row, ok in marks:
        groups[("all", "all")].append(ok)
        groups[("label", row["relation"])].append(ok)
        groups[("confidence", row["band"])].append(ok)
    out = []
    for (kind, name), oks in sorted(groups.items(), key=lambda kv: ({"all": 0, "confidence": 1, "label": 2}[kv[0][0]], kv[0][1])):
        lo, hi = wilson(sum(oks), len(oks))
        out.append({"by": kind, "group": name, "n": len(oks), "correct": sum(oks),
                    "precision": sum(oks) / len(oks), "wilson_low": lo, "wilson_high": hi})
    return out
