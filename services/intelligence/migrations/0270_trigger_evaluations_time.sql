-- Retention deletes evaluations that fired nothing oldest first (services/intelligence/retention.py):
-- an index on the evaluation time keeps each batch from scanning the whole table.
CREATE INDEX trigger_evaluations_time ON trigger_evaluations (evaluate_time);
