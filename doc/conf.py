"""Sphinx configuration of the face_perception documentation: MyST Markdown pages in doc/, the
layout rosdoc2 reads (it finds this conf.py in the package's doc folder).

    pip install .[docs] && python -m sphinx -W -b html doc build/doc_html
"""

import logging
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent

project = "face_perception"
author = "face_perception maintainers"
extensions = ["myst_parser"]
root_doc = "index"
source_suffix = {".md": "markdown"}
myst_heading_anchors = 3
exclude_patterns = ["_build", "images/*.md"]
OPTIONAL_PAGES = {"identity"}


class _KnownGaps(logging.Filter):
    """Lets through every warning but two kinds that test/unit/test_docs.py checks instead: a toctree
    entry for an optional page not written yet, and a link to a repository file outside doc/ (which
    Sphinx cannot resolve; the link works where the repository is browsed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if "didn't match any documents" in text and record.args and str(record.args[0]).rstrip("*") in OPTIONAL_PAGES:
            return False
        found = re.match(r"Unknown source document '(.+)'$", text)
        if found:
            target = Path(found.group(1))
            outside = DOC not in target.parents
            return not (outside and target.with_suffix(".md").is_file())
        return True


for _name in ("sphinx.sphinx.directives.other", "sphinx.myst_parser.sphinx_ext.myst_refs"):
    logging.getLogger(_name).addFilter(_KnownGaps())
