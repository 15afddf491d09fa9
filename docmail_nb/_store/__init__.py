"""Private: _store of docmail_nb."""
