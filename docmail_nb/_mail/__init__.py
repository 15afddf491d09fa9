"""Private: _mail of docmail_nb."""
