"""The report as a list of blocks (headings, text, figures, tables), and its two renderings:
a self-contained HTML page (figures embedded as base64 PNG) and a Markdown twin that refers to
the same PNG files under figures/."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from .tables import Table


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Image:
    path: str           # relative to the report folder, e.g. figures/tpu_like_roofline.png
    caption: str
    data: bytes         # PNG


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(blocks) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Text):
            out.append(block.text)
        elif isinstance(block, Image):
            out.append(f"![{block.caption}]({block.path})\n\n*{block.caption}*")
        else:
            out.append(_md_table(block))
    return "\n\n".join(out) + "\n"


def _md_table(table: Table) -> str:
    align = ["---" if i < table.text_columns else "---:" for i in range(len(table.headers))]
    lines = [f"#### {table.title}", "",
             "| " + " | ".join(map(_md_cell, table.headers)) + " |",
             "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
    return "\n".join(lines)


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1, h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
.table { overflow-x: auto; margin: 1em 0 2em; }
table { border-collapse: collapse; font-size: .85em; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #ddd; padding: .2em .5em; white-space: nowrap; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
"""


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def page(title: str, blocks) -> str:
    toc = "".join(f'<li><a href="#{_anchor(b.text)}">{html.escape(b.text)}</a></li>'
                  for b in blocks if isinstance(b, Heading) and b.level == 2)
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f'<h{block.level} id="{_anchor(block.text)}">{html.escape(block.text)}'
                        f'</h{block.level}>')
            if block.level == 1 and toc:
                body.append(f"<nav><ul>{toc}</ul></nav>")
        elif isinstance(block, Text):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Image):
            data = base64.b64encode(block.data).decode("ascii")
            body.append(f'<figure><img alt="{html.escape(block.caption)}" '
                        f'src="data:image/png;base64,{data}"><figcaption>'
                        f'{html.escape(block.caption)}</figcaption></figure>')
        else:
            body.append(_html_table(block))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" if i < table.text_columns
                         else f'<td class="num">{html.escape(c)}</td>'
                         for i, c in enumerate(row)) + "</tr>\n"
        for row in table.rows)
    return (f'<div class="table"><table><caption>{html.escape(table.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table></div>")
