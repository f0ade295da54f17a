"""`accord graph show`: a team's graph as Mermaid text, and as a PNG where a renderer exists.

Nothing is sent over the network: LangChain's default PNG route posts the diagram to
mermaid.ink, so the picture is drawn only by a local renderer, Graphviz through `pygraphviz`
or the Mermaid CLI (`mmdc`); without one the error says how to get one.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

from accord.app.cli import teams
from accord.app.errors import RendererMissing


def mermaid(target: str) -> str:
    """The Mermaid text of an example's graph (by name) or of `module:attr`/`file.py:attr`."""
    graph = teams.team(target)
    text: str = graph.get_graph().draw_mermaid()
    return text


def write_png(target: str, path: Path) -> str:
    """Draws the graph into `path` with the first local renderer found; returns its name.

    Raises:
        RendererMissing: Neither pygraphviz nor the Mermaid CLI (`mmdc`) is installed.
    """
    text = mermaid(target)
    mmdc = shutil.which("mmdc")
    if mmdc is not None:
        with tempfile.TemporaryDirectory() as work:
            source = Path(work) / "graph.mmd"
            source.write_text(text)
            subprocess.run([mmdc, "-i", str(source), "-o", str(path)], check=True)
        return "mmdc"
    if importlib.util.find_spec("pygraphviz") is None:  # what draw_png needs
        raise RendererMissing(
            "drawing a PNG needs a local renderer: the Mermaid CLI "
            "(npm install -g @mermaid-js/mermaid-cli) or pygraphviz (pip install pygraphviz, "
            "with Graphviz). The Mermaid text above renders at https://mermaid.live too"
        )
    graph = teams.team(target)
    graph.get_graph().draw_png(str(path))
    return "graphviz"
