"""Private: _sheets of docmail_nb."""
