"""Private: _run of docmail_nb."""
