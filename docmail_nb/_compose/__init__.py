"""Private: _compose of docmail_nb."""
