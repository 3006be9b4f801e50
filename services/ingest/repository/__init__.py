"""All of ingest's SQL, one module per concept. Every function returns frozen dataclasses, never
asyncpg records; each module converts its own rows.

- leads: leads, locations, UpsertLead's request ids
- events: a lead's behavioural events (lead_events)
- imports: ImportLeads' COPY batches
- outbox: the transactional outbox and its relay's lease
- inbox: raw provider webhooks and the location lookups that match them
"""
