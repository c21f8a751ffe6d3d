"""The repository explains itself: every "why" it cites resolves inside a fresh clone.

A citation is a page under ``docs/`` (or ARCHITECTURE.md, CONTRIBUTING.md, README.md) with
an optional ``#anchor``, which must exist as a heading of that page, or a public URL. A bare
research-note name (``reliability.md §1.2``, ``peers.md (c)``, ``STYLE.md habit 11``), a
section sign without its document (``§3``) or a path of the machine the code was written on
(``/home/...``, ``/mnt/...``) cannot be followed from a clone and fails. System paths the
code needs (``/usr/bin/chromium``) are fine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Where citations live. Excluded: this file (its examples are what it flags).
SCANNED_DIRS = ("src", "tests", "benchmarks", "notebooks", "docs", "scripts", "sample_data",
                ".ci")
SCANNED_FILES = ("README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "Makefile",
                 "pyproject.toml")
EXCLUDED = {Path("tests/test_docs.py")}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".ipynb", ".cfg", ".ini", ".yml", ".yaml",
                 ".sh", ""}
SKIPPED_PARTS = {"__pycache__", ".cache", ".ipynb_checkpoints"}

#: Research notes that live outside the repository, with or without a path before them.
NOTE = re.compile(
    r"(?<![\w-])(?:[\w.~-]*/)*"
    r"(providers|reliability|performance|jupyter|peers(?:-and-demand-[\d-]+)?|STYLE|HELPERS)"
    r"\.md\b"
)
#: A page of this repository with an optional anchor, as code and docs cite it.
PAGE = re.compile(
    r"(?<![\w./-])((?:\.\./)*(?:docs/[\w./-]*?|ARCHITECTURE|CONTRIBUTING|README)\.md)"
    r"(#[\w-]+)?"
)
#: A section sign with a number; fine only after the public document it belongs to.
SECTION = re.compile(r"§\s*\d+(?:\.\d+)*")
PUBLIC_SECTION = re.compile(r"(?:RFC \d+|CFR|TS [\d.]+|ECMA-\d+)\s*$")
#: Folders of the writer's machine (a checkout, a home, a shared notes folder).
MACHINE = re.compile(
    r"(?<![\w.:/-])(?:/(?:work|home|root|Users|mnt)/[^\s`'\")]*|\.\./shared\b[^\s`'\")]*)"
)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def scanned_files() -> list[Path]:
    """Every text file a citation could be in, relative to the repository root."""
    found = [ROOT / name for name in SCANNED_FILES if (ROOT / name).is_file()]
    for folder in SCANNED_DIRS:
        found += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    return sorted(
        p.relative_to(ROOT) for p in found
        if p.suffix in TEXT_SUFFIXES and not SKIPPED_PARTS & set(p.parts)
        and p.relative_to(ROOT) not in EXCLUDED
    )


def lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = (ROOT / path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return
    yield from enumerate(text.splitlines(), start=1)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to -.

    >>> slug("Failure classes: what is retried")
    'failure-classes-what-is-retried'
    >>> slug("`send(..., bulk=True)` on Sociocs")
    'send-bulktrue-on-sociocs'
    """
    text = re.sub(r"<[^>]+>", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """The anchors of a markdown page: one per heading outside code blocks (GitHub's rule)."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        heading = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading is None:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def unresolved(target: str, anchor: str | None, *, base: Path) -> str | None:
    """Why ``target#anchor`` (relative to ``base``, a folder of the repo) cannot be followed."""
    page = (ROOT / base / target).resolve()
    if not page.is_relative_to(ROOT) or not page.is_file():
        return f"{target} does not exist"
    if anchor and page.suffix == ".md" and anchor.lstrip("#") not in anchors(page):
        return f"{target} has no heading for {anchor}"
    return None


def bare_notes(line: str, *, markdown: bool = False, folder: Path | None = None) -> list[str]:
    """The research-note citations and orphan section signs of one line.

    In markdown, link targets are left to the link check, and a name that is a page of docs/
    seen from the page's ``folder`` (``reliability.md`` in docs/performance.md) is that page.

    >>> bare_notes("Retries follow reliability.md §3 (and see docs/reliability.md).")
    ['reliability.md', '§3']
    >>> bare_notes("Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3).")
    []
    >>> bare_notes("see [the journal](../reliability.md#the-journal)", markdown=True)
    []
    """
    if markdown:
        line = MARKDOWN_LINK.sub("]()", line)
    docs = (ROOT / "docs").resolve()

    def in_docs(name: str) -> bool:
        if re.sub(r"^(?:\.\.?/)+", "", name).startswith("docs/"):
            return True
        page = (ROOT / folder / name).resolve() if folder is not None else None
        return page is not None and page.is_relative_to(docs) and page.is_file()

    found = [m.group(0) for m in NOTE.finditer(line) if not in_docs(m.group(0))]
    found += [
        m.group(0) for m in SECTION.finditer(line)
        if not PUBLIC_SECTION.search(line[: m.start()])
    ]
    return found


def machine_paths(line: str) -> list[str]:
    """The paths of the writer's machine in one line (system paths like /usr/bin are fine).

    >>> machine_paths("as /home/ada/notes/validate.py does; Debian's /usr/bin/chromium")
    ['/home/ada/notes/validate.py']
    >>> machine_paths("https://github.com/awdeorio/home/x and ~/.jupyter")
    []
    """
    return [m.group(0).rstrip(".,;:") for m in MACHINE.finditer(line)]


def page_links(path: Path, line: str) -> list[tuple[str, str | None, Path]]:
    """(target, anchor, folder it is relative to) of every repository page a line cites."""
    markdown = path.suffix == ".md"
    text = MARKDOWN_LINK.sub("]()", line) if markdown else line  # links: relative to the page
    links = [(m.group(1), m.group(2), Path()) for m in PAGE.finditer(text)
             if not m.group(1).startswith("../")]
    if markdown:
        for m in MARKDOWN_LINK.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z][\w+.-]*:", target):  # https:, mailto:
                continue
            page, _, anchor = target.partition("#")
            links.append((page or path.name, f"#{anchor}" if anchor else None, path.parent))
    return links


def test_every_cited_page_and_anchor_exists() -> None:
    """Each docs/ page (and #anchor) cited in code, tests, benchmarks and docs exists."""
    broken = [
        f"{path}:{number}: {why}"
        for path in scanned_files()
        for number, line in lines(path)
        for target, anchor, base in page_links(path, line)
        if (why := unresolved(target, anchor, base=base)) is not None
    ]
    assert broken == []


def test_no_citation_of_a_note_outside_the_repository() -> None:
    """No file cites a research note by bare name or a section sign without its document."""
    bare = [
        f"{path}:{number}: {cited}"
        for path in scanned_files()
        for number, line in lines(path)
        for cited in bare_notes(line, markdown=path.suffix == ".md", folder=path.parent)
    ]
    assert bare == []


def test_no_path_of_the_machine_the_code_was_written_on() -> None:
    """No file names where a checkout, a home or a mounted drive is (/home/..., /mnt/...)."""
    found = [
        f"{path}:{number}: {where}"
        for path in scanned_files()
        for number, line in lines(path)
        for where in machine_paths(line)
    ]
    assert found == []


SOURCES = ROOT / "docs" / "providers" / "README.md"
#: Short keys of sources (research-note keys such as BD8 or TX1 included: none is listed).
SOURCE_KEY = re.compile(
    r"\b(SOC(?:-[A-Z0-9]+)?|TXU-[A-Z]+|BIRD-[A-Z-]*[A-Z]|TW-[A-Z]+|BD\d+|TX\d+)\b"
)
SEED = re.compile(r"\b[Ss]eeds? (\d{3})(?:-(\d{3}))?")


def test_every_source_key_and_seed_cited_is_listed_in_the_sources_page() -> None:
    """Short source keys (SOC, TW-OAI...) and seed numbers cited are listed with their URLs."""
    listed = SOURCES.read_text(encoding="utf-8") if SOURCES.is_file() else ""
    keys = set(re.findall(r"^\| `([A-Z][A-Z0-9-]*)` \|", listed, re.M))
    seeds = set(re.findall(r"^\| seed (\d{3}) \|", listed, re.M))
    missing = sorted({
        f"{path}: {cited}"
        for path in scanned_files() if path.parts[0] in ("src", "tests", "benchmarks")
        for _, line in lines(path)
        for cited in [m.group(1) for m in SOURCE_KEY.finditer(line) if m.group(1) not in keys]
        + [f"seed {n}" for m in SEED.finditer(line) for n in filter(None, m.groups())
           if n not in seeds]
    })
    assert missing == []


@pytest.mark.parametrize(
    ("line", "bare", "machine"),
    [
        ("(providers.md §1.9 S1)", ["providers.md", "§1.9"], []),
        ("see ``/mnt/notes/performance.md`` §4",
         ["/mnt/notes/performance.md", "§4"], ["/mnt/notes/performance.md"]),
        ("peers.md (c) and STYLE.md habit 13", ["peers.md", "STYLE.md"], []),
        ("docs/reliability.md#failure-classes", [], []),
        ("CHROMIUM = Path('/usr/bin/chromium')", [], []),
        ("(47 CFR §64.1200(c)(1))", [], []),
        ("the §3 action", ["§3"], []),
        ("~/.local/share/jupyter and /home/ada/.cache", [], ["/home/ada/.cache"]),
    ],
)
def test_the_scanner_flags_exactly_what_a_clone_cannot_follow(line, bare, machine) -> None:
    """Bare notes, orphan § and machine paths are flagged; docs links and system paths are not."""
    assert (bare_notes(line), machine_paths(line)) == (bare, machine)


def test_the_anchor_check_rejects_a_missing_heading(tmp_path) -> None:
    """A link to a page that exists but lacks the heading is reported with the anchor."""
    assert unresolved("README.md", "#no-such-heading", base=Path()) == (
        "README.md has no heading for #no-such-heading"
    )
    assert unresolved("docs/nowhere.md", None, base=Path()) == "docs/nowhere.md does not exist"
