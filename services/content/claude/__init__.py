"""Claude writes content's messages and reads replies when ANTHROPIC_API_KEY is set.

Every call goes through one AsyncAnthropic client per process with the SDK's own retries
off: `calls` retries with backoff and jitter inside a bounded time, behind a circuit
breaker, and anything unusable ends in the template writer (or the lexicon), flagged.
"""
