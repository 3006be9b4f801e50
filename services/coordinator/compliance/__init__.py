"""Compliance: the pure gates every automated message passes, opt-out keywords, and the
consent and suppression records they read."""
