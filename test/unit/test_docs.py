"""The documentation cannot drift: links resolve, commands and flags exist, parameter tables match the
shipped parameters files both ways, every page is in the table of contents, and Sphinx builds it
with warnings as errors (where Sphinx and myst-parser are installed).

Parameter tables: a Markdown table whose header starts ``| parameter | default |``, right below a
comment ``<!-- parameters: config/a.yaml [config/b.yaml ...] -->``; one parameter per row, its name
and its default each in backticks (``""`` for an empty string).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT

from face_perception.cli.main import build_parser
from face_perception.core.config import load_parameters_yaml

DOC = ROOT / "doc"
PAGES = sorted(DOC.glob("*.md"))
DOCUMENTS = [ROOT / "README.md", *PAGES]
OPTIONAL_PAGES = {"identity"}  # pages the table of contents takes in when they are written (doc/conf.py)

LINK = re.compile(r"!?\[(?:[^\]]|\][^(])*?\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MARKER = re.compile(r"<!--\s*parameters:\s*(.+?)\s*-->")
FENCE = re.compile(r"^\s*(```|~~~)")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code spans (where links are not links)."""
    kept, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def _slug(heading: str) -> str:
    """GitHub's (and MyST's) anchor of a heading."""
    text = re.sub(r"[`*_]", lambda m: "_" if m.group() == "_" else "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = "\n".join(line for line in _code_free_lines(path.read_text()))
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE)}


def _code_free_lines(text: str) -> list[str]:
    lines, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines.append(line)
    return lines


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path):
    broken = []
    for target in LINK.findall(_prose(document.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        path = (document.parent / path_part).resolve() if path_part else document
        if not path.exists():
            broken.append(f"{target}: no {path}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, f"{document.relative_to(ROOT)}: " + "; ".join(broken)


def _commands(text: str) -> list[list[str]]:
    """The words of every ``face-perception ...`` command line in the text (code blocks and inline code),
    up to a comment, a pipe or the end of the code."""
    spans = re.findall(r"`([^`\n]*face-perception [^`\n]*)`", text)
    spans += [line for line in text.splitlines() if "face-perception " in line and not line.lstrip().startswith("`")]
    commands = []
    for span in spans:
        for match in re.finditer(r"(?:^|[\s(])face-perception\s+(.*)", span):
            words = []
            for word in match.group(1).split():
                if word.startswith("#") or word in ("|", "&&", ";", ">", "2>&1", "\\"):
                    break
                words.append(word)
            if words:
                commands.append(words)
    return commands


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_and_flag_mentioned_exists(document: Path):
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    unknown = []
    for words in _commands(document.read_text()):
        command = words[0]
        if command.isupper():  # a placeholder (COMMAND)
            continue
        if command.startswith("-"):
            if command not in _options(parser):
                unknown.append(f"face-perception {command}")
            continue
        if command not in subparsers:
            unknown.append(f"face-perception {command} (no such command)")
            continue
        command_parser = subparsers[command]
        rest = words[1:]
        nested = [a for a in command_parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested and rest and rest[0] in nested[0].choices:  # a sub-command (identity enroll)
            command_parser, command, rest = nested[0].choices[rest[0]], f"{command} {rest[0]}", rest[1:]
        elif nested and rest and not rest[0].startswith("-") and not rest[0].isupper():
            unknown.append(f"face-perception {command} {rest[0]} (no such command)")
            continue
        known = _options(command_parser) | _options(parser)
        for word in rest:
            flag = re.sub(r"^[\[(]+", "", word).split("=")[0].rstrip("]),.;:")
            if flag.startswith("--") and flag not in known:
                unknown.append(f"face-perception {command} {flag}")
    assert not unknown, f"{document.relative_to(ROOT)} mentions: " + ", ".join(sorted(set(unknown)))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _parameter_tables() -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    """(where, parameters files, rows of (name cell, default cell)) for every parameter table."""
    tables = []
    for document in DOCUMENTS:
        lines = document.read_text().splitlines()
        for index, line in enumerate(lines):
            cells = _cells(line) if line.lstrip().startswith("|") else []
            if cells[:2] != ["parameter", "default"] or (index and lines[index - 1].lstrip().startswith("|")):
                continue
            where = f"{document.relative_to(ROOT)}:{index + 1}"
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = MARKER.search(previous)
            assert marker, f"{where}: a parameter table needs '<!-- parameters: config/FILE.yaml -->' above it"
            rows = []
            for row in lines[index + 2 :]:
                if not row.lstrip().startswith("|"):
                    break
                rows.append(tuple(_cells(row)[:2]))
            tables.append((where, marker.group(1).split(), rows))
    return tables


def _value(cell: str, where: str):
    found = re.fullmatch(r"`([^`]*)`", cell)
    assert found, f"{where}: {cell!r} must be one value in backticks"
    text = found.group(1)
    return "" if text == '""' else yaml.safe_load(text)


def test_parameter_tables_match_the_shipped_files_both_ways():
    tables = _parameter_tables()
    assert tables, "no parameter table found"
    documented: dict[str, set[str]] = {}
    problems = []
    for where, files, rows in tables:
        for name_cell, default_cell in rows:
            found = re.fullmatch(r"`([A-Za-z0-9_.]+)`", name_cell)
            if not found:
                problems.append(f"{where}: {name_cell!r} must be one parameter name in backticks")
                continue
            name, default = found.group(1), _value(default_cell, where)
            for file in files:
                shipped = load_parameters_yaml(ROOT / file, "**")
                documented.setdefault(file, set()).add(name)
                if name not in shipped:
                    problems.append(f"{where}: {name} is not in {file}")
                elif type(shipped[name]) is not type(default) or shipped[name] != default:
                    problems.append(f"{where}: {name} default {default!r}, {file} has {shipped[name]!r}")
    for file, names in documented.items():
        missing = sorted(set(load_parameters_yaml(ROOT / file, "**")) - names)
        if missing:
            problems.append(f"{file}: no table row for {', '.join(missing)}")
    for path in sorted((ROOT / "config").glob("*.yaml")):  # the others override a documented file
        relative = str(path.relative_to(ROOT))
        if relative not in documented:
            names = set(load_parameters_yaml(path, "**"))
            if not any(names <= set(load_parameters_yaml(ROOT / f, "**")) for f in documented):
                problems.append(f"{relative}: neither documented in a table nor an override of a documented file")
    assert not problems, "\n".join(problems)


def _toctree_entries() -> list[str]:
    text = (DOC / "index.md").read_text()
    block = re.search(r"```\{toctree\}\n(.*?)```", text, re.DOTALL)
    assert block, "doc/index.md has no toctree"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith(":")]


def test_every_page_is_in_the_table_of_contents():
    entries = _toctree_entries()
    pages = {page.stem for page in PAGES} - {"index"}
    listed = {entry for entry in entries if "*" not in entry}
    optional = {entry.rstrip("*") for entry in entries if "*" in entry}
    assert listed <= pages, f"toctree names missing pages: {sorted(listed - pages)}"
    assert optional <= OPTIONAL_PAGES, "a glob entry is kept for pages written elsewhere only"
    assert pages - listed <= optional, f"pages not in the toctree: {sorted(pages - listed - optional)}"


def test_readme_first_screen_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 60, f"README.md has {len(lines)} lines: its details belong in doc/"


@pytest.mark.skipif(
    importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_parser") is None,
    reason="Sphinx and myst-parser are not installed (pip install .[docs])",
)
def test_docs_build_with_sphinx_warnings_as_errors(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOC), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert (tmp_path / "html" / "index.html").is_file()
