"""The one vocabulary: counts with nouns, and settings spelled as the face in use spells them."""

from __future__ import annotations

import pytest

from docmail_nb import Batch, ConfigError
from docmail_nb._sample import sample_dir
from docmail_nb.words import counted, plural, setting, speak_as


def test_counts_take_their_noun() -> None:
    assert counted(1, "message") == "1 message"
    assert counted(3, "message") == "3 messages"
    assert counted(0, "address", "addresses") == "0 addresses"
    assert plural(2, "Row") == "Rows"


def test_a_setting_is_spelled_as_the_face_in_use_spells_it() -> None:
    assert setting("rows", "2-40") == "--rows 2-40"
    speak_as("papermill")
    assert setting("rows", "2-40") == "-r rows 2-40"
    assert setting("resend_unknown") == "-p resend_unknown True"
    speak_as("panel")
    assert setting("resend_unknown") == 'the "Resend unknown" button'
    assert setting("ca_file") == "the CA file field"
    with pytest.raises(ValueError, match="face must be one of"):
        speak_as("telegraph")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("face", "spelled"),
    [("cli", "--rows '2-x'"), ("papermill", "-r rows '2-x'"), ("panel", "rows='2-x'")],
)
def test_core_texts_name_what_to_do_in_the_face_s_own_words(face: str, spelled: str) -> None:
    speak_as(face)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as raised:
        Batch.from_files(
            sample_dir() / "orders.xlsx",
            sample_dir() / "templates" / "invoice.txt",
            sheet="Rechnungen",
            rows="2-x",
        )
    assert str(raised.value).startswith(f"{spelled}: '2-x' is not a row number")
    assert setting("rows", "2-40,45") in raised.value.hint
