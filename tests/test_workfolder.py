"""`docmail init FOLDER`: a working folder that runs as it is, and never overwrites a file."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from docmail_nb.cli import main
from docmail_nb.errors import ConfigError
from docmail_nb.workfolder import NOTEBOOKS, init_folder, localize_notebook


def parameters(notebook: Path) -> dict[str, object]:
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    namespace: dict[str, object] = {}
    exec(cell.source, namespace)
    del namespace["__builtins__"]
    return namespace


def test_init_makes_a_folder_whose_notebooks_use_its_own_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "invoices")])
    assert result.exit_code == 0, result.output
    assert "jupyter lab" in result.output
    folder = tmp_path / "invoices"
    for name in (*NOTEBOOKS, "README.md", "orders.xlsx", "orders.csv"):
        assert (folder / name).is_file(), name
    assert {p.name for p in (folder / "templates").iterdir()} >= {
        "invoice.txt",
        "offer.txt",
        "delivery_note.txt",
    }
    assert len(list((folder / "documents").glob("*.pdf"))) == 20
    for name in ("02_send_documents.ipynb", "scheduled_send.ipynb"):
        values = parameters(folder / name)
        assert values["orders"] == "orders.xlsx"
        assert values["template"] == "templates/invoice.txt"
        assert values["documents"] == "documents"
        assert values["sheet"] == "Rechnungen"
        for key in ("orders", "template", "documents"):
            assert (folder / str(values[key])).exists()
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "jupyter lab" in readme
    assert "02_send_documents.ipynb" in readme


def test_the_folder_checks_clean_from_inside(tmp_path: Path) -> None:
    init_folder(tmp_path / "invoices")
    cwd = Path.cwd()
    os.chdir(tmp_path / "invoices")
    try:
        result = CliRunner().invoke(
            main, ["check", "orders.xlsx", "templates/invoice.txt", "--sheet", "Rechnungen"]
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert "10 messages ready to send" in result.output


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "invoices"
    folder.mkdir()
    mine = folder / "orders.xlsx"
    mine.write_bytes(b"my own orders")
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code == 2
    assert "orders.xlsx" in result.output
    assert "nothing was written" in result.output
    assert mine.read_bytes() == b"my own orders"
    assert [p.name for p in folder.iterdir()] == ["orders.xlsx"]


def test_init_into_a_folder_with_other_files_keeps_them(tmp_path: Path) -> None:
    folder = tmp_path / "invoices"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    made = init_folder(folder)
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert folder / "notes.txt" not in made.files


def test_init_on_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "invoices"
    target.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a folder"):
        init_folder(target)


def test_a_parameter_missing_from_a_notebook_is_an_error_not_a_silent_skip() -> None:
    shipped = (Path(__file__).resolve().parent.parent / "notebooks" / NOTEBOOKS[1]).read_text(
        encoding="utf-8"
    )
    localized = nbformat.reads(localize_notebook(shipped, {"orders": "orders.xlsx"}), 4)
    assert 'orders = "orders.xlsx"' in localized.cells[1].source
    with pytest.raises(Exception, match="no parameter 'nonexistent'"):
        localize_notebook(shipped, {"nonexistent": "x"})
