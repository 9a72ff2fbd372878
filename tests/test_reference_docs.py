"""The reference pages say what the code does: docs/cli.md is the ``--help`` of
every ``troika`` command as the CLI prints it, and docs/contracts.md names every
function, event and error of the packaged contracts' ABIs.

Regenerate docs/cli.md after changing the CLI: ``python tests/test_reference_docs.py``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from troika.cli._app import app

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"
CONTRACTS = ROOT / "sdk" / "troika" / "contracts"
WIDTH = "100"
INTRO = """# CLI reference

`troika` is a thin shell over the same public API that scripts import; each
command below is listed with its `--help`, exactly as the CLI prints it at a
width of 100 columns (a test regenerates this page and compares: after
changing the CLI, run `python tests/test_reference_docs.py`).

Settings come from options, then `TROIKA_*` variables, then `troika.toml`; see
[Configuration](configuration.md). No option at all means the embedded
defaults: an in-process EVM and a local blockstore under the troika home.
"""


def command_paths() -> list[tuple[str, ...]]:
    """Every command and group, parents first, in the order the CLI lists them."""
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(click.Context(command)):
                sub = command.get_command(click.Context(command), name)
                if sub is not None and not sub.hidden:
                    walk(sub, (*path, name))

    walk(root, ())
    return paths


def help_text(path: tuple[str, ...]) -> str:
    env = {"TERMINAL_WIDTH": WIDTH, "COLUMNS": WIDTH, "NO_COLOR": "1", "TERM": "dumb"}
    result = CliRunner().invoke(app, [*path, "--help"], env=env, prog_name="troika")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    return "\n".join(lines).strip("\n")


def render() -> str:
    sections = [INTRO]
    for path in command_paths():
        title = " ".join(("troika", *path))
        sections.append(f"## `{title}`\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(sections)


def test_cli_reference_matches_the_cli() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), "run: python tests/test_reference_docs.py"


@pytest.mark.parametrize("contract", ["AssetRegistry", "ComputeJobs"])
def test_contracts_page_names_every_function_event_and_error(contract: str) -> None:
    page = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    section = page.split(f"## {contract}\n", 1)[1].split("\n## ", 1)[0]
    abi = json.loads((CONTRACTS / f"{contract}.json").read_text(encoding="utf-8"))["abi"]
    for kind in ("function", "event", "error"):
        heading = {"function": "Functions", "event": "Events", "error": "Errors"}[kind]
        table = section.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
        named = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", table))
        names = {entry["name"] for entry in abi if entry["type"] == kind}
        assert names <= named, (contract, kind, sorted(names - named))


if __name__ == "__main__":
    os.environ.pop("TROIKA_HOME", None)
    PAGE.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {PAGE}\n")
