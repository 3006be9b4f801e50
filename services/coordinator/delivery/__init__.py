"""Delivery: handing messages to providers, the scheduler that sends what waited for its
window, provider status reports, and the communications record."""
