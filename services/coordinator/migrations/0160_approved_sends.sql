-- Suggest mode: a journey step whose draft waits for an agent's approval is recorded
-- BLOCKED with the draft's content message id and this flag. SendApprovedMessage clears
-- the flag in the same statement that takes the row for sending, so an approval sent
-- twice (or by two callers at once) goes out once; a step refused after approval keeps
-- the flag cleared and cannot be revived by a later repeat.
ALTER TABLE communications ADD COLUMN awaiting_approval boolean NOT NULL DEFAULT false;
-- SendApprovedMessage finds the step by the content message it carries.
CREATE INDEX communications_by_message ON communications (message_id) WHERE message_id <> '';
