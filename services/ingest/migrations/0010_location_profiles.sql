-- A location's profile (UpdateLocation): who it sends as, from which numbers and address.
-- Rows exist already for every location a lead or webhook named; their profile starts empty.
ALTER TABLE locations
    ADD COLUMN name             text NOT NULL DEFAULT '',
    ADD COLUMN brand_name       text NOT NULL DEFAULT '',
    ADD COLUMN time_zone        text NOT NULL DEFAULT '',
    ADD COLUMN postal_address   text NOT NULL DEFAULT '',
    -- In the order the caller gave them; location_sms_numbers holds the same numbers, keyed.
    ADD COLUMN sms_from_numbers text[] NOT NULL DEFAULT '{}',
    ADD COLUMN email_from       text NOT NULL DEFAULT '',
    ADD COLUMN update_time      timestamptz;
UPDATE locations SET update_time = create_time;
ALTER TABLE locations ALTER COLUMN update_time SET NOT NULL, ALTER COLUMN update_time SET DEFAULT now();
-- ListLocations: newest first, keyset on (create_time, location_id).
CREATE INDEX locations_created ON locations (create_time DESC, location_id DESC);

-- Each SMS number belongs to one location at most: an inbound text to it is that location's.
CREATE TABLE location_sms_numbers (
    number      text PRIMARY KEY,
    location_id text NOT NULL REFERENCES locations (location_id)
);
CREATE INDEX location_sms_numbers_location ON location_sms_numbers (location_id);

-- Numbers listed in settings.sms_numbers before profiles existed become profile numbers; a number
-- two locations listed stays with the first (by location_id), as inbound matching could not use it.
INSERT INTO location_sms_numbers (number, location_id)
SELECT DISTINCT ON (n.number) n.number, l.location_id
FROM locations l, jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(l.settings -> 'sms_numbers') = 'array' THEN l.settings -> 'sms_numbers'
    ELSE '[]'::jsonb END) AS n(number)
ORDER BY n.number, l.location_id
ON CONFLICT DO NOTHING;
UPDATE locations l SET sms_from_numbers = ARRAY(
    SELECT number FROM location_sms_numbers s WHERE s.location_id = l.location_id ORDER BY number)
WHERE EXISTS (SELECT 1 FROM location_sms_numbers s WHERE s.location_id = l.location_id);

-- UpdateLocation's idempotency keys, with the answer the first call gave.
CREATE TABLE location_requests (
    request_id  text PRIMARY KEY,
    location_id text NOT NULL,
    response    bytea NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now()
);
