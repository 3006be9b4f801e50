-- Retention deletes delivered outcome rows oldest first (services/routing/retention.py): an
-- index on the delivery time keeps each batch from scanning the whole table.
CREATE INDEX outcome_outbox_published ON outcome_outbox (published_time) WHERE published_time IS NOT NULL;
