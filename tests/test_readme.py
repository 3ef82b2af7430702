"""The README is executed: its command blocks run in order, in one shell, in a fresh folder, as a reader would
paste them, so the tour cannot drift from the code.

- ``bash`` blocks run in one ``bash`` session (``set -euo pipefail``: any failing command, unset variable or
  failing pipe fails the test), so a variable set in one block (``KEY``, ``SERVER``) serves the later ones, as it
  does in the reader's terminal. ``python`` blocks run with the project's interpreter in the same folder;
  ``toml`` blocks are parsed.
- A block that cannot run here (a remote cluster, a PostgreSQL server on another host, a server in the
  foreground, a benchmark of minutes) is left out by a comment just above it, ``<!-- not run: the reason -->``,
  which the reader of the README's source sees; every such block must give its reason.
- ``<!-- files: path … -->`` above a block names files of the project that the block reads as if the reader had
  them (a download from elsewhere); they are copied into the folder before the block runs.
- The only rewriting: the server's port 8000 becomes a free port, so the test can run beside another server.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import require_program
from web_support import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELLS = ("bash", "sh")
MARKER = re.compile(r"^\s*<!--\s*(not run|files):\s*(.*?)\s*-->\s*$")

pytestmark = pytest.mark.slow


@dataclass
class Block:
    line: int  # 1-based line of the opening fence in README.md
    lang: str
    code: str
    not_run: str | None = None  # the reason, when left out
    files: tuple[str, ...] = ()


def readme_blocks(text: str) -> list[Block]:
    """Every code block of the README, in order, with the marker comment on the line(s) just above it."""
    lines = text.splitlines()
    blocks = []
    for tok in MarkdownIt("commonmark").parse(text):
        if tok.type not in ("fence", "code_block"):
            continue
        start = tok.map[0]
        block = Block(start + 1, tok.info.strip().split(" ")[0] if tok.type == "fence" else "", tok.content)
        i = start - 1
        while i >= 0 and MARKER.match(lines[i]):  # the comments stacked right above the block
            kind, value = MARKER.match(lines[i]).groups()
            if kind == "not run":
                block.not_run = value
            else:
                block.files += tuple(value.split())
            i -= 1
        blocks.append(block)
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_every_block_names_its_language_and_every_block_left_out_says_why():
    assert len(BLOCKS) > 20
    for b in BLOCKS:
        assert b.lang, f"README.md line {b.line}: a code block without a language (```bash, ```python …)"
        if b.not_run is not None:
            assert len(b.not_run.split()) >= 3, f"README.md line {b.line}: 'not run' needs a reason, got {b.not_run!r}"
        elif b.lang not in SHELLS + ("python", "toml"):
            pytest.fail(f"README.md line {b.line}: a {b.lang} block cannot be run: mark it '<!-- not run: why -->'")
        for name in b.files:
            assert (ROOT / name).is_file(), f"README.md line {b.line}: files: {name} is not in the project"

    def commands(blocks):
        return sum(1 for b in blocks for line in b.code.splitlines()
                   if line.strip() and not line.lstrip().startswith("#"))

    left_out = commands(b for b in BLOCKS if b.not_run is not None)
    assert commands(b for b in BLOCKS if b.not_run is None) >= 3 * left_out, "most of the README must run"


def test_the_toml_blocks_parse():
    for b in BLOCKS:
        if b.lang == "toml" and b.not_run is None:
            tomllib.loads(b.code)


def _script(blocks: list[Block], scripts: Path, port: int) -> str:
    """One bash script: the blocks in order, each announced on standard error by its README line."""
    parts = ["set -euo pipefail"]
    for b in blocks:
        parts.append(f"echo '::README.md line {b.line}::' >&2")
        parts += [f"cp {shlex.quote(str(ROOT / name))} ." for name in b.files]
        code = b.code.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("--port 8000", f"--port {port}")
        if b.lang in SHELLS:
            parts.append(code)
        else:  # python
            path = scripts / f"readme_line_{b.line}.py"
            path.write_text(code, encoding="utf-8")
            parts.append(f"python {shlex.quote(str(path))}")
    return "\n".join(parts) + "\n"


def test_the_readme_runs_as_written(tmp_path):
    for program in ("curl", "ogr2ogr", "chromium", "lrelease"):
        require_program(program, "the README's tour uses it")
    run = [b for b in BLOCKS if b.not_run is None and b.lang in SHELLS + ("python",)]
    folder, scripts = tmp_path / "tour", tmp_path / "scripts"
    folder.mkdir()
    scripts.mkdir()
    script = scripts / "readme.sh"
    script.write_text(_script(run, scripts, free_port()), encoding="utf-8")
    venv_bin = Path(sys.executable).parent  # `rallypoint` and `python` of the project's virtual environment
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           # `rallypoint qgis-plugin install --profile default` installs into this folder's QGIS profiles, as QGIS
           # itself reads QGIS_CUSTOM_CONFIG_PATH, not into the profile of whoever runs the tests
           "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "qgis-config")}
    env.pop("RALLYPOINT_KEY", None)
    # the output goes to files, not pipes: a server the tour left running would hold a pipe open after the
    # script's end, and the test would wait for it instead of for the script
    said, told = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(said, "w") as stdout, open(told, "w") as stderr:
        proc = subprocess.Popen(["bash", str(script)], cwd=folder, env=env, stdout=stdout, stderr=stderr,
                                text=True, start_new_session=True)
        try:
            proc.wait(timeout=1200)  # the whole tour: analyses, a server, QGIS (minutes on a busy machine)
        finally:  # a server the tour started and did not stop, and anything else it left running
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    out, err = said.read_text(errors="replace"), told.read_text(errors="replace")
    where = re.findall(r"::README\.md line (\d+)::", err)
    if proc.returncode != 0:
        pytest.fail(f"the README's block at line {where[-1] if where else '?'} failed (exit {proc.returncode}):\n"
                    f"--- standard output (end) ---\n{out[-3000:]}\n--- standard error (end) ---\n{err[-3000:]}")
    assert len(where) == len(run)
    # what the tour says it made is there
    for name in ("county.gpkg", "my.gpkg", "county_capacity_en.html", "county_coverage_zh.html", "fixes.csv",
                 "county_sheet/sheet_zh.pdf", "town.gpkg.manifest.json", "city-export.gpkg", "field.gpkg",
                 "backups/county-0501.gpkg", "rallypoint_qgis.zip"):
        assert (folder / name).exists(), name
    profile = tmp_path / "qgis-config" / "profiles" / "default"
    assert (profile / "python" / "plugins" / "rallypoint_qgis" / "_vendor" / "rallypoint" / "__init__.py").is_file()
    assert "rallypoint_qgis=true" in (profile / "QGIS" / "QGIS3.ini").read_text(encoding="utf-8")
