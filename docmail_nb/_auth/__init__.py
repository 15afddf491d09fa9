"""Private: _auth of docmail_nb."""
