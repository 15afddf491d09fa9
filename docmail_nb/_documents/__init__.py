"""Private: _documents of docmail_nb."""
