"""``python -m docmail_nb`` is the ``docmail`` command."""

from .cli import main

__all__: list[str] = []

main()
