"""Notifications: messages to agents about their leads, and their record."""
