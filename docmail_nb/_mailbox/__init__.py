"""Private: _mailbox of docmail_nb."""
