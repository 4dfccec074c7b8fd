"""A report page's content as data: reports.py decides what a month's page says, the Jinja2
template (templates/monthly_report.html.j2) lays it out and HTML-escapes every value, and
to_markdown gives the same content to the UI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class Strong:
    kind: ClassVar[str] = "strong"
    text: str


@dataclass(frozen=True)
class Link:
    """A link to one of the report's own files, next to the page (never elsewhere)."""

    kind: ClassVar[str] = "link"
    text: str
    href: str

    def __post_init__(self):
        if not re.fullmatch(r"[\w.-]+", self.href):
            raise ValueError(f"a report links its own files only, not {self.href!r}")


@dataclass(frozen=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    parts: tuple  # str | Strong | Link


@dataclass(frozen=True)
class Image:
    """A chart from plots.py, embedded (a data URI: the page stays self-contained)."""

    kind: ClassVar[str] = "image"
    alt: str
    src: str

    @classmethod
    def from_markdown(cls, image: str) -> Image:
        found = re.fullmatch(r"!\[(.*?)\]\((data:image/(?:png|svg\+xml);base64,[A-Za-z0-9+/=]+)\)", image.strip())
        if not found:
            raise ValueError("plots.py returns a markdown image with a data URI")
        return cls(found.group(1), found.group(2))


@dataclass(frozen=True)
class Table:
    """Cells are text or a tuple of parts (str | Strong | Link); an all-blank header is not shown."""

    kind: ClassVar[str] = "table"
    header: tuple[str, ...]
    rows: list[tuple]


@dataclass(frozen=True)
class Section:
    heading: str | None  # None: the lead, under the page's title
    blocks: list = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    heading: str
    sections: list[Section]


def paragraph(*parts) -> Paragraph:
    return Paragraph(tuple(parts))
