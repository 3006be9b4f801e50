-- A status report names only the provider's message id; which provider accepted it (for the
-- reason's wording: HighLevel carries SMS and email) is looked up by that id.
CREATE INDEX send_attempts_provider_message ON send_attempts (provider_message_id) WHERE state = 'accepted';
