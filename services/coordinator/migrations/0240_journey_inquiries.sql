-- reinquiry: a new inquiry (a form_submit behaviour event) from a lead whose journey ended
-- may start the lead's next journey (journeys/inquiry.py). The journey keeps the event that
-- started it: a redelivered event finds its journey to finish instead of starting another,
-- and no event ever starts two.
ALTER TABLE journeys ADD COLUMN inquiry_event_id text;

CREATE UNIQUE INDEX journeys_inquiry_event ON journeys (inquiry_event_id)
    WHERE inquiry_event_id IS NOT NULL;
