"""Path completion in the console's path inputs: the rule itself, and → taking it in a screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.screen_host import until
from smconsole.ui.widgets.path_suggester import PathSuggester, complete_path
from textual.app import App, ComposeResult
from textual.widgets import Input


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "nightly.yaml").write_text("x")
    (tmp_path / "batches" / "notes.txt").write_text("x")
    (tmp_path / "batches" / ".hidden.yaml").write_text("x")
    (tmp_path / "bench.yml").write_text("x")
    return tmp_path


YAML = (".yaml", ".yml")


def test_folders_come_first_alphabetically_with_a_slash(tree: Path) -> None:
    assert complete_path("ba", YAML, tree) == "batches/"
    assert complete_path("batches", YAML, tree) == "batches/"
    assert complete_path("ben", YAML, tree) == "bench.yml"


def test_only_wanted_suffixes_and_no_hidden_files_unless_asked(tree: Path) -> None:
    assert complete_path("batches/n", YAML, tree) == "batches/nightly.yaml"
    assert complete_path("batches/no", YAML, tree) is None  # notes.txt is not a spec
    assert complete_path("batches/", YAML, tree) == "batches/nightly.yaml"
    assert complete_path("batches/.", YAML, tree) == "batches/.hidden.yaml"


def test_absolute_home_and_missing_folders(tree: Path, monkeypatch) -> None:
    assert complete_path(f"{tree}/batches/ni", YAML, Path("/")) == f"{tree}/batches/nightly.yaml"
    monkeypatch.setenv("HOME", str(tree))
    assert complete_path("~/ben", YAML, Path("/")) == "~/bench.yml"
    assert complete_path("nowhere/x", YAML, tree) is None
    assert complete_path("", YAML, tree) is None


class OneInput(App[None]):
    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base

    def compose(self) -> ComposeResult:
        yield Input(suggester=PathSuggester(YAML, base=self.base))


async def test_right_arrow_takes_the_suggestion_step_by_step(tree: Path) -> None:
    app = OneInput(tree)
    async with app.run_test() as pilot:
        field = app.query_one(Input)
        for typed, completed in (("b", "batches/"), ("n", "batches/nightly.yaml")):
            await pilot.press(*typed)
            await until(pilot, lambda c=completed: field._suggestion == c)
            await pilot.press("right")
            assert field.value == completed
