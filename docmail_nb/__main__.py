"""``python -m docmail_nb`` is the ``docmail`` command."""

from docmail_nb.cli import main

__all__: list[str] = []

main()
