"""Inbound: messages outside the journey's own sends (a lead's reply or opt-out, a
person's message from the CRM)."""
