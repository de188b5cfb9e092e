-- The flu cohort of examples/flu/flu.yaml, written by hand for DuckDB in the tuned form
-- that shared/DESIGN.md (section 8) sets caas against: each event table is joined once to a
-- (code, cluster) table and grouped once by person, with one filtered aggregate per
-- variable; the derived variables and the rules follow in projections over the person table.
--
-- benches/compare_duckdb.py sets up, before running it:
--   persons, registrations, gp_events, gp_medications, apc
--       views over the Parquet folders of a population made by `flu_bench generate`;
--   codelists(cluster VARCHAR, system VARCHAR, code VARCHAR)
--       every code of every codelist in flu.yaml, as written in its CSV file (trimmed);
--       the cluster is the codelist's name, and a code may be in several clusters.
--
-- Parameters are flu.yaml's defaults, written as literals:
--   index_date      2026-01-31  (- 6 months = 2025-07-31, - 12 months = 2025-01-31)
--   age_date        2026-03-31
--   child_age_date  2025-08-31
--   campaign_start  2025-09-01  (- 9 months = 2024-12-01, - 1 day = 2025-08-31)
--
-- Semantics follow caas: windows include both bounds; `exists` is false without events and
-- other aggregates are null; last_value takes the event greatest by (date, code, value);
-- an include rule keeps only people for whom it is true, an exclude rule removes only
-- people for whom it is true.

WITH
snomed_clusters AS (
    SELECT CAST(code AS BIGINT) AS code, cluster
    FROM codelists
    WHERE system = 'snomed_ct'
),

dmd_clusters AS (
    SELECT CAST(code AS BIGINT) AS code, cluster
    FROM codelists
    WHERE system = 'dmd'
),

-- ICD-10 and OPCS-4 codes normalised as caas does: upper case, no '.', no trailing 'X'
-- after the third character. They match hospital codes by prefix.
hospital_clusters AS (
    SELECT DISTINCT system, cluster, left(c, 3) || rtrim(c[4:], 'X') AS code
    FROM (
        SELECT system, cluster, upper(replace(code, '.', '')) AS c
        FROM codelists
        WHERE system IN ('icd10', 'opcs4')
    )
),

-- GP clinical events: one join, one pass, one aggregate per variable (CASE inside the
-- aggregate runs faster in DuckDB than FILTER). Every window ends on or before the index
-- date.
gp AS (
    SELECT
        e.person_id,
        max(CASE WHEN c.cluster = 'ast' THEN e.date END) AS ast_dat,
        bool_or(c.cluster = 'resp') AS resp,
        bool_or(c.cluster = 'chd') AS chd,
        bool_or(c.cluster = 'cld') AS cld,
        bool_or(c.cluster = 'cns') AS cns,
        bool_or(c.cluster = 'spln') AS spln,
        bool_or(c.cluster = 'learndis') AS learndis,
        bool_or(c.cluster = 'ckd') AS ckd_dx,
        max(CASE WHEN c.cluster = 'ckd15' THEN e.date END) AS ckd15_dat,
        max(CASE WHEN c.cluster = 'ckd35' THEN e.date END) AS ckd35_dat,
        max(CASE WHEN c.cluster = 'diab' THEN e.date END) AS diab_dat,
        max(CASE WHEN c.cluster = 'dmres' THEN e.date END) AS dmres_dat,
        bool_or(c.cluster = 'addis') AS addis,
        bool_or(c.cluster = 'immdx') AS immdx,
        bool_or(c.cluster = 'dxt_chemo' AND e.date >= DATE '2025-07-31') AS chemo_6m,
        max(CASE WHEN c.cluster = 'sev_obesity' THEN e.date END) AS sevob_dat,
        max(
            CASE WHEN c.cluster = 'bmi' AND e.value BETWEEN 10 AND 100 THEN e.date END
        ) AS bmi_dat,
        -- The value of the latest BMI, the largest of its date; rows whose key is null
        -- (other clusters, values out of range) are ignored.
        arg_max(
            e.value,
            CASE
                WHEN c.cluster = 'bmi' AND e.value BETWEEN 10 AND 100
                THEN (e.date, e.value)
            END
        ) AS bmi_val,
        bool_or(c.cluster = 'preg' AND e.date >= DATE '2025-09-01') AS preg_season,
        max(
            CASE
                WHEN c.cluster = 'preg'
                    AND e.date BETWEEN DATE '2024-12-01' AND DATE '2025-08-31'
                THEN e.date
            END
        ) AS preg_pre_dat,
        max(
            CASE
                WHEN c.cluster IN ('preg', 'pregdel')
                    AND e.date BETWEEN DATE '2024-12-01' AND DATE '2025-08-31'
                THEN e.date
            END
        ) AS pregdel_pre_dat,
        max(CASE WHEN c.cluster = 'carer' THEN e.date END) AS carer_dat,
        max(CASE WHEN c.cluster = 'notcarer' THEN e.date END) AS notcarer_dat,
        max(CASE WHEN c.cluster IN ('reside', 'longres') THEN e.date END) AS reside_dat,
        max(CASE WHEN c.cluster = 'longres' THEN e.date END) AS longres_dat,
        bool_or(c.cluster = 'hcworker') AS hcworker,
        bool_or(c.cluster = 'hhld_imdef') AS hhld_imdef,
        bool_or(c.cluster = 'fluvax' AND e.date >= DATE '2025-09-01') AS fluvax_season,
        bool_or(c.cluster = 'fludecl' AND e.date >= DATE '2025-09-01') AS fludecl_season
    FROM gp_events AS e
    JOIN snomed_clusters AS c ON c.code = e.code
    WHERE e.date <= DATE '2026-01-31'
    GROUP BY e.person_id
),

-- GP medications: both variables look back at most 12 months.
meds AS (
    SELECT
        e.person_id,
        bool_or(c.cluster = 'astrx') AS astrx_12m,
        bool_or(c.cluster = 'immrx' AND e.date >= DATE '2025-07-31') AS immrx_6m
    FROM gp_medications AS e
    JOIN dmd_clusters AS c ON c.code = e.code
    WHERE e.date BETWEEN DATE '2025-01-31' AND DATE '2026-01-31'
    GROUP BY e.person_id
),

-- Hospital episodes, one row per diagnosis (ICD-10) or procedure (OPCS-4), with the code
-- normalised like the codelists'.
hospital_codes AS (
    SELECT
        person_id,
        admidate AS date,
        CASE WHEN field LIKE 'DIAG%' THEN 'icd10' ELSE 'opcs4' END AS system,
        left(c, 3) || rtrim(c[4:], 'X') AS code
    FROM (
        SELECT person_id, admidate, field, upper(replace(trim(code), '.', '')) AS c
        FROM (
            UNPIVOT (
                SELECT * FROM apc WHERE admidate <= DATE '2026-01-31'
            ) ON COLUMNS('^(DIAG|OPERTN)_4_') INTO NAME field VALUE code
        )
    )
),

-- Prefix matching as an equi-join: cut each hospital code to every length a codelist code
-- has, and join the prefixes to the codelists.
hospital AS (
    SELECT
        e.person_id,
        bool_or(c.cluster = 'astadm') AS astadm,
        bool_or(c.cluster = 'chemo_opcs4' AND e.date >= DATE '2025-07-31') AS chemo_hes_6m
    FROM hospital_codes AS e
    CROSS JOIN (SELECT DISTINCT length(code) AS n FROM hospital_clusters) AS lengths
    JOIN hospital_clusters AS c
        ON c.system = e.system AND c.code = left(e.code, lengths.n)
    GROUP BY e.person_id
),

-- The registration covering the index date; the latest-starting one (then the greatest
-- practice code) if several do.
registration AS (
    SELECT person_id, arg_max(practice, (start_date, practice)) AS practice
    FROM registrations
    WHERE start_date <= DATE '2026-01-31'
        AND (end_date IS NULL OR end_date >= DATE '2026-01-31')
    GROUP BY person_id
),

-- Every variable read from a table, one row per person.
person AS (
    SELECT
        p.person_id,
        p.date_of_birth AS dob,
        -- Whole years: the year difference, less one before the birthday.
        2026 - year(p.date_of_birth) - CASE
            WHEN month(p.date_of_birth) * 100 + day(p.date_of_birth) > 331 THEN 1 ELSE 0
        END AS age,
        2025 - year(p.date_of_birth) - CASE
            WHEN month(p.date_of_birth) * 100 + day(p.date_of_birth) > 831 THEN 1 ELSE 0
        END AS child_age,
        p.date_of_birth <= DATE '2026-01-31'
            AND (p.date_of_death IS NULL OR p.date_of_death > DATE '2026-01-31') AS alive,
        r.person_id IS NOT NULL AS registered,
        r.practice,
        gp.ast_dat,
        coalesce(meds.astrx_12m, false) AS astrx_12m,
        coalesce(hospital.astadm, false) AS astadm,
        coalesce(gp.resp, false) AS resp,
        coalesce(gp.chd, false) AS chd,
        coalesce(gp.cld, false) AS cld,
        coalesce(gp.cns, false) AS cns,
        coalesce(gp.spln, false) AS spln,
        coalesce(gp.learndis, false) AS learndis,
        coalesce(gp.ckd_dx, false) AS ckd_dx,
        gp.ckd15_dat,
        gp.ckd35_dat,
        gp.diab_dat,
        gp.dmres_dat,
        coalesce(gp.addis, false) AS addis,
        coalesce(gp.immdx, false) AS immdx,
        coalesce(meds.immrx_6m, false) AS immrx_6m,
        coalesce(gp.chemo_6m, false) AS chemo_6m,
        coalesce(hospital.chemo_hes_6m, false) AS chemo_hes_6m,
        gp.sevob_dat,
        gp.bmi_dat,
        gp.bmi_val,
        coalesce(gp.preg_season, false) AS preg_season,
        gp.preg_pre_dat,
        gp.pregdel_pre_dat,
        gp.carer_dat,
        gp.notcarer_dat,
        gp.reside_dat,
        gp.longres_dat,
        coalesce(gp.hcworker, false) AS hcworker,
        coalesce(gp.hhld_imdef, false) AS hhld_imdef,
        coalesce(gp.fluvax_season, false) AS fluvax_season,
        coalesce(gp.fludecl_season, false) AS fludecl_season
    FROM persons AS p
    LEFT JOIN registration AS r ON r.person_id = p.person_id
    LEFT JOIN gp ON gp.person_id = p.person_id
    LEFT JOIN meds ON meds.person_id = p.person_id
    LEFT JOIN hospital ON hospital.person_id = p.person_id
),

-- The derived conditions (SQL's three-valued logic, as in caas). As in flu.yaml, the date
-- comparisons are wrapped in coalesce(..., false): a missing code means "not in the
-- group", not "unknown".
conditions AS (
    SELECT
        *,
        dob <= DATE '2025-07-31' AS aged_6_months,
        astadm OR (ast_dat IS NOT NULL AND astrx_12m) AS asthma,
        ckd_dx OR coalesce(ckd35_dat >= ckd15_dat, false) AS ckd,
        addis
            OR coalesce(diab_dat >= coalesce(dmres_dat, DATE '1900-01-01'), false)
            AS diabetes,
        immdx OR immrx_6m OR chemo_6m OR chemo_hes_6m AS immuno,
        coalesce(
            sevob_dat >= coalesce(bmi_dat, DATE '1900-01-01') OR bmi_val >= 40, false
        ) AS severe_obesity,
        preg_season OR coalesce(preg_pre_dat >= pregdel_pre_dat, false) AS pregnant,
        coalesce(carer_dat > coalesce(notcarer_dat, DATE '1900-01-01'), false) AS carer,
        coalesce(longres_dat >= reside_dat, false) AS care_home
    FROM person
),

groups AS (
    SELECT
        *,
        age >= 65 AS grp_65_plus,
        child_age BETWEEN 2 AND 3 AS grp_child_2_3,
        aged_6_months AND age < 65 AND (
            -- clinical_risk
            immuno OR ckd OR asthma OR resp OR diabetes OR chd OR cld OR cns OR spln
            OR learndis OR (severe_obesity AND age >= 18)
        ) AS grp_risk,
        pregnant AS grp_pregnant,
        care_home AS grp_care_home,
        hcworker AND age BETWEEN 16 AND 64 AS grp_hcw,
        hhld_imdef AND aged_6_months AS grp_household
    FROM conditions
),

carers AS (
    SELECT
        *,
        carer AND age BETWEEN 5 AND 64
            AND NOT (grp_65_plus OR grp_risk OR grp_pregnant) AS grp_carer
    FROM groups
),

-- Materialised: otherwise DuckDB inlines every layer above into the rules' filter, where
-- `eligible` and `age` are expanded and evaluated dozens of times per person (which more
-- than doubles the run time of the whole query at 1M people).
eligibility AS MATERIALIZED (
    SELECT
        *,
        grp_65_plus OR grp_child_2_3 OR grp_risk OR grp_pregnant OR grp_care_home
            OR grp_carer OR grp_hcw OR grp_household AS eligible
    FROM carers
)

SELECT
    person_id,
    practice,
    age,
    grp_65_plus,
    grp_child_2_3,
    grp_risk,
    grp_pregnant,
    grp_care_home,
    grp_carer,
    grp_hcw,
    grp_household
FROM eligibility
-- The 15 rules in order: an include needs TRUE, an exclude removes only TRUE.
WHERE alive IS TRUE
    AND registered IS TRUE
    AND (dob IS NULL) IS NOT TRUE
    AND (dob > DATE '2026-01-31') IS NOT TRUE
    AND (age > 120) IS NOT TRUE
    AND (NOT aged_6_months) IS NOT TRUE
    AND (age < 2 AND NOT eligible) IS NOT TRUE
    AND (age BETWEEN 2 AND 4 AND NOT eligible) IS NOT TRUE
    AND (age BETWEEN 5 AND 15 AND NOT eligible) IS NOT TRUE
    AND (age BETWEEN 16 AND 17 AND NOT eligible) IS NOT TRUE
    AND (age BETWEEN 18 AND 49 AND NOT eligible) IS NOT TRUE
    AND (age BETWEEN 50 AND 64 AND NOT eligible) IS NOT TRUE
    AND eligible IS TRUE
    AND fluvax_season IS NOT TRUE
    AND fludecl_season IS NOT TRUE
ORDER BY person_id
