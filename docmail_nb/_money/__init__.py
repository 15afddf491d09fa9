"""Private: _money of docmail_nb."""
