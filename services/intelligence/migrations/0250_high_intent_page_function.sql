-- ListHighIntentLeads' page query (services/intelligence/high_intent.py LIST_SQL, which a test
-- keeps equal to this body) as a function, for one setting: plan_cache_mode. Run as a prepared
-- statement, PostgreSQL re-planned it on every call (its generic plan's cost estimate loses to
-- the custom one), and planning cost more than executing (0.3-0.6 ms against 0.9 ms at 1 M
-- leads). Its best plan does not depend on the parameters (index scans by location and fit), so
-- the function keeps one generic plan per connection. search_path is fixed at creation, so a
-- caller in another schema (the bench's direct baseline) runs the same statement.
CREATE OR REPLACE FUNCTION high_intent_page(
    text, float8, float8, float8, float8, float8, uuid, integer, float8
) RETURNS TABLE (
    lead_id uuid, row_version bigint, location_id text, profile text, kinds text, eng_key float8,
    score_now float8
)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET search_path FROM CURRENT
AS $page$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH RECURSIVE g(fit) AS (
    (SELECT s.fit FROM scores s WHERE s.location_id = $1 AND s.fit >= $3::float8 - $9::float8
       AND s.fit < $4::float8
     ORDER BY s.fit DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT s.fit FROM scores s
            WHERE s.location_id = $1 AND s.fit < g.fit AND s.fit >= $3::float8 - $9::float8
            ORDER BY s.fit DESC LIMIT 1)
    FROM g WHERE g.fit IS NOT NULL
),
floor AS MATERIALIZED (
    SELECT greatest($3::float8, coalesce((
        SELECT r.score_now FROM (SELECT fit FROM g WHERE fit IS NOT NULL LIMIT 3) g CROSS JOIN LATERAL (
            SELECT least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))) AS score_now 
        FROM scores s
        WHERE s.location_id = $1 AND s.fit = g.fit
          AND s.eng_key >= CASE WHEN $3::float8 - g.fit <= 0 THEN '-Infinity'::float8 ELSE ln($3::float8 - g.fit) + $2::float8 - 1e-9 END AND s.eng_key <= CASE WHEN $4::float8 - g.fit > $9::float8 THEN 'Infinity'::float8 ELSE ln($4::float8 - g.fit) + $2::float8 + 1e-9 END AND s.eng_key <= CASE WHEN $5::float8 IS NULL OR $5::float8 > g.fit + $9::float8 THEN 'Infinity'::float8 WHEN $5::float8 = g.fit + $9::float8 THEN greatest($6::float8, ln($9::float8) + $2::float8 + 1e-9) WHEN $5::float8 > g.fit THEN ln($5::float8 - g.fit) + $2::float8 + 1e-9 ELSE '-Infinity'::float8 END
          AND least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))) >= $3::float8 AND least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))) < $4::float8
          AND ($5::float8 IS NULL OR (least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))), s.eng_key, s.lead_id) < ($5::float8, $6::float8, $7::uuid))
        ORDER BY s.eng_key DESC, s.lead_id DESC
            LIMIT $8
        ) r
        ORDER BY r.score_now DESC OFFSET $8 - 1 LIMIT 1
    ), '-Infinity'::float8)) AS low
),
h(fit) AS (
    (SELECT s.fit FROM scores s WHERE s.location_id = $1 AND s.fit >= (SELECT low FROM floor) - $9::float8
       AND s.fit < $4::float8
     ORDER BY s.fit DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT s.fit FROM scores s
            WHERE s.location_id = $1 AND s.fit < h.fit AND s.fit >= (SELECT low FROM floor) - $9::float8
            ORDER BY s.fit DESC LIMIT 1)
    FROM h WHERE h.fit IS NOT NULL
),
top AS (
    SELECT r.* FROM h g CROSS JOIN floor f CROSS JOIN LATERAL (
        SELECT s.lead_id, s.eng_key, least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))) AS score_now 
        FROM scores s
        WHERE s.location_id = $1 AND s.fit = g.fit
          AND s.eng_key >= CASE WHEN f.low - g.fit <= 0 THEN '-Infinity'::float8 ELSE ln(f.low - g.fit) + $2::float8 - 1e-9 END AND s.eng_key <= CASE WHEN $4::float8 - g.fit > $9::float8 THEN 'Infinity'::float8 ELSE ln($4::float8 - g.fit) + $2::float8 + 1e-9 END AND s.eng_key <= CASE WHEN $5::float8 IS NULL OR $5::float8 > g.fit + $9::float8 THEN 'Infinity'::float8 WHEN $5::float8 = g.fit + $9::float8 THEN greatest($6::float8, ln($9::float8) + $2::float8 + 1e-9) WHEN $5::float8 > g.fit THEN ln($5::float8 - g.fit) + $2::float8 + 1e-9 ELSE '-Infinity'::float8 END
          AND least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))) >= f.low AND least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))) < $4::float8
          AND ($5::float8 IS NULL OR (least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8)))), s.eng_key, s.lead_id) < ($5::float8, $6::float8, $7::uuid))
        ORDER BY s.eng_key DESC, s.lead_id DESC
        LIMIT $8
    ) r
    WHERE g.fit IS NOT NULL
    ORDER BY r.score_now DESC, r.eng_key DESC, r.lead_id DESC
    LIMIT $8
)
SELECT s.lead_id, s.xmin::text::bigint AS row_version, s.location_id, s.profile::text AS profile,
       s.kinds::text AS kinds, s.eng_key, top.score_now
FROM top JOIN scores s ON s.lead_id = top.lead_id
ORDER BY top.score_now DESC, top.eng_key DESC, top.lead_id DESC;
END
$page$;
