-- data quality of persons
WITH
"known_people" AS (
  SELECT
    "person_id" AS "__q_id",
    min(CAST("dob" AS DATE)) AS "__q_birth",
    count(*) AS "__q_rows"
  FROM "persons"
  WHERE "person_id" IS NOT NULL
  GROUP BY "person_id"
)
SELECT
  count(*) AS "rows",
  count(*) FILTER (WHERE "person_id" IS NULL) AS "excluded",
  count(*) FILTER (WHERE "person_id" IS NULL) AS "finding_0",
  count(*) FILTER (WHERE coalesce("__q_rows" > 1, FALSE)) AS "finding_1",
  count(*) FILTER (WHERE "dob" IS NULL) AS "finding_2",
  count(*) FILTER (WHERE CAST("dob" AS DATE) > DATE '2026-01-31' OR "date_of_death" > DATE '2026-01-31') AS "finding_3",
  count(*) FILTER (WHERE CAST("dob" AS DATE) < DATE '1900-01-01' OR "date_of_death" < DATE '1900-01-01') AS "finding_4",
  count(*) FILTER (WHERE "date_of_death" < CAST("dob" AS DATE)) AS "finding_5",
  count(*) FILTER (WHERE "ndop" IS NULL OR "type1_opt_out" IS NULL) AS "finding_6"
FROM "persons" AS "__q_row"
LEFT JOIN "known_people" ON "known_people"."__q_id" = "person_id";

-- data quality of gp
WITH
"known_people" AS (
  SELECT
    "person_id" AS "__q_id",
    min(CAST("dob" AS DATE)) AS "__q_birth",
    count(*) AS "__q_rows"
  FROM "persons"
  WHERE "person_id" IS NOT NULL
  GROUP BY "person_id"
),
"gp_code_values" AS (
  SELECT
    "code" AS "code"
  FROM "gp"
),
"gp_codes" AS (
  SELECT DISTINCT
    "code"
  FROM "gp_code_values"
  WHERE "code" IS NOT NULL
),
"gp_code_checks" AS (
  SELECT
    "code",
    NOT CASE WHEN regexp_like(CAST("code" AS VARCHAR), '^[1-9][0-9]{5,17}$') THEN ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', 0 * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 0 THEN ascii(substr('0123456789', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 0, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 1 THEN ascii(substr('1576283094', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 1, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 2 THEN ascii(substr('5803796142', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 2, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 3 THEN ascii(substr('8916043527', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 3, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 4 THEN ascii(substr('9453126870', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 4, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 5 THEN ascii(substr('4286573901', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 5, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 6 THEN ascii(substr('2793806415', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 6, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 7 THEN ascii(substr('7046913258', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 7, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 8 THEN ascii(substr('0123456789', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 8, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 9 THEN ascii(substr('1576283094', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 9, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 10 THEN ascii(substr('5803796142', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 10, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 11 THEN ascii(substr('8916043527', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 11, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 12 THEN ascii(substr('9453126870', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 12, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 13 THEN ascii(substr('4286573901', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 13, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 14 THEN ascii(substr('2793806415', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 14, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 15 THEN ascii(substr('7046913258', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 15, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 16 THEN ascii(substr('0123456789', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 16, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST("code" AS VARCHAR)) > 17 THEN ascii(substr('1576283094', ascii(substr(CAST("code" AS VARCHAR), length(CAST("code" AS VARCHAR)) - 17, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48 = 0 ELSE FALSE END AS "bad"
  FROM "gp_codes"
)
SELECT
  count(*) AS "rows",
  count(*) FILTER (WHERE "person_id" IS NULL) AS "excluded",
  count(*) FILTER (WHERE "person_id" IS NULL) AS "finding_0",
  count(*) FILTER (WHERE "person_id" IS NOT NULL AND "__q_id" IS NULL) AS "finding_1",
  count(*) FILTER (WHERE "date" IS NULL) AS "finding_2",
  count(*) FILTER (WHERE "date" > DATE '2026-01-31') AS "finding_3",
  count(*) FILTER (WHERE "date" < DATE '1900-01-01') AS "finding_4",
  count(*) FILTER (WHERE "__q_id" IS NOT NULL AND "date" < "__q_birth") AS "finding_5",
  count(*) FILTER (WHERE coalesce("__q_code_0"."bad", FALSE)) AS "finding_6",
  count(*) FILTER (WHERE CAST("value" AS DOUBLE PRECISION) = CAST('NaN' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('Infinity' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('-Infinity' AS DOUBLE PRECISION)) AS "finding_7"
FROM "gp" AS "__q_row"
LEFT JOIN "known_people" ON "known_people"."__q_id" = "person_id"
LEFT JOIN "gp_code_checks" AS "__q_code_0" ON "__q_code_0"."code" = "__q_row"."code";

-- data quality of apc
WITH
"known_people" AS (
  SELECT
    "person_id" AS "__q_id",
    min(CAST("dob" AS DATE)) AS "__q_birth",
    count(*) AS "__q_rows"
  FROM "persons"
  WHERE "person_id" IS NOT NULL
  GROUP BY "person_id"
),
"apc_code_values" AS (
  SELECT
    "diag_1" AS "code"
  FROM "apc"
  UNION ALL
  SELECT
    "diag_2" AS "code"
  FROM "apc"
),
"apc_codes" AS (
  SELECT DISTINCT
    "code"
  FROM "apc_code_values"
  WHERE "code" IS NOT NULL
),
"apc_code_checks" AS (
  SELECT
    "code",
    NOT regexp_like(CASE WHEN length(upper(replace(trim(CAST("code" AS VARCHAR)), '.', ''))) > 3 THEN substr(upper(replace(trim(CAST("code" AS VARCHAR)), '.', '')), 1, 3) || TRIM(TRAILING 'X' FROM substr(upper(replace(trim(CAST("code" AS VARCHAR)), '.', '')), 4)) ELSE upper(replace(trim(CAST("code" AS VARCHAR)), '.', '')) END, '^[A-Z][0-9]{2}[A-Z0-9]{0,4}$') AS "bad"
  FROM "apc_codes"
)
SELECT
  count(*) AS "rows",
  count(*) FILTER (WHERE "person_id" IS NULL) AS "excluded",
  count(*) FILTER (WHERE "person_id" IS NULL) AS "finding_0",
  count(*) FILTER (WHERE "person_id" IS NOT NULL AND "__q_id" IS NULL) AS "finding_1",
  count(*) FILTER (WHERE "admidate" IS NULL) AS "finding_2",
  count(*) FILTER (WHERE "admidate" > DATE '2026-01-31') AS "finding_3",
  count(*) FILTER (WHERE "admidate" < DATE '1900-01-01') AS "finding_4",
  count(*) FILTER (WHERE "__q_id" IS NOT NULL AND "admidate" < "__q_birth") AS "finding_5",
  count(*) FILTER (WHERE coalesce("__q_code_0"."bad", FALSE) OR coalesce("__q_code_1"."bad", FALSE)) AS "finding_6"
FROM "apc" AS "__q_row"
LEFT JOIN "known_people" ON "known_people"."__q_id" = "person_id"
LEFT JOIN "apc_code_checks" AS "__q_code_0" ON "__q_code_0"."code" = "__q_row"."diag_1"
LEFT JOIN "apc_code_checks" AS "__q_code_1" ON "__q_code_1"."code" = "__q_row"."diag_2";

-- The cohort `own_dates` in postgres SQL, generated by caas 0.1.0.

-- The codelists as (code, variable index) tables, then every person's outputs and rule results.
DROP TABLE IF EXISTS pg_temp."caas_codes_own_dates_gp";
CREATE TEMPORARY TABLE "caas_codes_own_dates_gp" (code VARCHAR, variable INTEGER);
INSERT INTO "caas_codes_own_dates_gp" VALUES ('195967001', 0);
DROP TABLE IF EXISTS pg_temp."caas_codes_own_dates_apc";
CREATE TEMPORARY TABLE "caas_codes_own_dates_apc" (code VARCHAR, variable INTEGER);
INSERT INTO "caas_codes_own_dates_apc" VALUES ('J45', 0);
DROP TABLE IF EXISTS pg_temp."caas_codes_own_dates_gp_layer1";
CREATE TEMPORARY TABLE "caas_codes_own_dates_gp_layer1" (code VARCHAR, variable INTEGER);
INSERT INTO "caas_codes_own_dates_gp_layer1" VALUES ('162660004', 0);
DROP TABLE IF EXISTS pg_temp."caas_codes_own_dates_apc_layer1";
CREATE TEMPORARY TABLE "caas_codes_own_dates_apc_layer1" (code VARCHAR, variable INTEGER);
INSERT INTO "caas_codes_own_dates_apc_layer1" VALUES ('J45', 0);
DROP TABLE IF EXISTS pg_temp."caas_cohort_own_dates_cb116df1a42a";
CREATE TEMPORARY TABLE "caas_cohort_own_dates_cb116df1a42a" AS
WITH
"persons_kept" AS (
  SELECT
    "__q_row".*
  FROM "persons" AS "__q_row"
  WHERE NOT coalesce("person_id" IS NULL, FALSE)
),
"persons_step" AS (
  SELECT
    "person_id" AS "person_id",
    CAST("dob" AS DATE) AS "__p_date_of_birth",
    "sex" AS "__p_sex",
    "date_of_death" AS "__p_date_of_death",
    "ndop" AS "__p_national_opt_out",
    "type1_opt_out" AS "__p_type1_opt_out",
    "region" AS "__p_region"
  FROM "persons_kept"
),
"gp_events" AS (
  SELECT
    "person_id" AS "person_id",
    "date" AS "date",
    CASE WHEN CAST("value" AS DOUBLE PRECISION) = CAST('NaN' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('Infinity' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('-Infinity' AS DOUBLE PRECISION) THEN CAST(NULL AS DOUBLE PRECISION) ELSE CAST("value" AS DOUBLE PRECISION) END AS "value",
    "source" AS "source",
    "code" AS "code"
  FROM "gp"
  WHERE "date" <= DATE '2025-03-31' AND "code" IS NOT NULL AND "date" IS NOT NULL
),
"gp_matched" AS (
  SELECT
    "gp_events".*,
    "caas_codes_own_dates_gp"."variable" AS "__variable"
  FROM "gp_events"
  JOIN "caas_codes_own_dates_gp" ON "caas_codes_own_dates_gp"."code" = "gp_events"."code"
),
"gp_measures" AS (
  SELECT
    "person_id",
    max("date") FILTER (WHERE "__variable" = 0 AND "date" <= DATE '2025-03-31') AS "__e1"
  FROM "gp_matched"
  GROUP BY "person_id"
),
"apc_codes_step" AS (
  SELECT
    "person_id" AS "person_id",
    "admidate" AS "date",
    "diag_1" AS "code"
  FROM "apc"
  UNION ALL
  SELECT
    "person_id" AS "person_id",
    "admidate" AS "date",
    "diag_2" AS "code"
  FROM "apc"
),
"apc_events" AS (
  SELECT
    *
  FROM "apc_codes_step"
  WHERE "code" IS NOT NULL AND "date" IS NOT NULL
),
"apc_bare" AS (
  SELECT
    *,
    upper(replace(trim(CAST("code" AS VARCHAR)), '.', '')) AS "__bare"
  FROM "apc_events"
),
"apc_normalised" AS (
  SELECT
    *,
    CASE WHEN length("__bare") > 3 THEN substr("__bare", 1, 3) || TRIM(TRAILING 'X' FROM substr("__bare", 4)) ELSE "__bare" END AS "__normalised"
  FROM "apc_bare"
),
"apc_prefixes" AS (
  SELECT
    *,
    substr("__normalised", 1, 3) AS "__prefix"
  FROM "apc_normalised"
  WHERE length("__normalised") >= 3
),
"apc_matched" AS (
  SELECT
    "apc_prefixes".*,
    "caas_codes_own_dates_apc"."variable" AS "__variable"
  FROM "apc_prefixes"
  JOIN "caas_codes_own_dates_apc" ON "caas_codes_own_dates_apc"."code" = "apc_prefixes"."__prefix"
),
"apc_measures" AS (
  SELECT
    "person_id",
    min("date") FILTER (WHERE "__variable" = 0 AND TRUE) AS "__e3"
  FROM "apc_matched"
  GROUP BY "person_id"
),
"joined" AS (
  SELECT
    "persons_step".*,
    "gp_measures"."__e1",
    "apc_measures"."__e3"
  FROM "persons_step"
  LEFT JOIN "gp_measures" ON "gp_measures"."person_id" = "persons_step"."person_id"
  LEFT JOIN "apc_measures" ON "apc_measures"."person_id" = "persons_step"."person_id"
),
"variables_1" AS (
  SELECT
    *,
    "__e1" AS "latest_dx",
    "__e3" AS "first_admission"
  FROM "joined"
),
"gp_layer1_events" AS (
  SELECT
    "person_id" AS "person_id",
    "date" AS "date",
    CASE WHEN CAST("value" AS DOUBLE PRECISION) = CAST('NaN' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('Infinity' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('-Infinity' AS DOUBLE PRECISION) THEN CAST(NULL AS DOUBLE PRECISION) ELSE CAST("value" AS DOUBLE PRECISION) END AS "value",
    "source" AS "source",
    "code" AS "code"
  FROM "gp"
  WHERE "date" <= DATE '2025-03-31' AND "code" IS NOT NULL AND "date" IS NOT NULL
),
"gp_layer1_with_variables" AS (
  SELECT
    "gp_layer1_events".*,
    "variables_1"."latest_dx" AS "__v_latest_dx"
  FROM "gp_layer1_events"
  JOIN "variables_1" ON "variables_1"."person_id" = "gp_layer1_events"."person_id"
),
"gp_layer1_matched" AS (
  SELECT
    "gp_layer1_with_variables".*,
    "caas_codes_own_dates_gp_layer1"."variable" AS "__variable"
  FROM "gp_layer1_with_variables"
  JOIN "caas_codes_own_dates_gp_layer1" ON "caas_codes_own_dates_gp_layer1"."code" = "gp_layer1_with_variables"."code"
),
"gp_layer1_measures" AS (
  SELECT
    "person_id",
    count(*) FILTER (WHERE "__variable" = 0 AND ("date" >= "__v_latest_dx" AND "date" <= DATE '2025-03-31')) AS "__e2"
  FROM "gp_layer1_matched"
  GROUP BY "person_id"
),
"apc_layer1_codes" AS (
  SELECT
    "person_id" AS "person_id",
    "admidate" AS "date",
    "diag_1" AS "code"
  FROM "apc"
  UNION ALL
  SELECT
    "person_id" AS "person_id",
    "admidate" AS "date",
    "diag_2" AS "code"
  FROM "apc"
),
"apc_layer1_events" AS (
  SELECT
    *
  FROM "apc_layer1_codes"
  WHERE "code" IS NOT NULL AND "date" IS NOT NULL
),
"apc_layer1_with_variables" AS (
  SELECT
    "apc_layer1_events".*,
    "variables_1"."first_admission" AS "__v_first_admission"
  FROM "apc_layer1_events"
  JOIN "variables_1" ON "variables_1"."person_id" = "apc_layer1_events"."person_id"
),
"apc_layer1_bare" AS (
  SELECT
    *,
    upper(replace(trim(CAST("code" AS VARCHAR)), '.', '')) AS "__bare"
  FROM "apc_layer1_with_variables"
),
"apc_layer1_normalised" AS (
  SELECT
    *,
    CASE WHEN length("__bare") > 3 THEN substr("__bare", 1, 3) || TRIM(TRAILING 'X' FROM substr("__bare", 4)) ELSE "__bare" END AS "__normalised"
  FROM "apc_layer1_bare"
),
"apc_layer1_prefixes" AS (
  SELECT
    *,
    substr("__normalised", 1, 3) AS "__prefix"
  FROM "apc_layer1_normalised"
  WHERE length("__normalised") >= 3
),
"apc_layer1_matched" AS (
  SELECT
    "apc_layer1_prefixes".*,
    "caas_codes_own_dates_apc_layer1"."variable" AS "__variable"
  FROM "apc_layer1_prefixes"
  JOIN "caas_codes_own_dates_apc_layer1" ON "caas_codes_own_dates_apc_layer1"."code" = "apc_layer1_prefixes"."__prefix"
),
"apc_layer1_measures" AS (
  SELECT
    "person_id",
    min("date") FILTER (WHERE "__variable" = 0 AND "date" >= DATE '1970-01-01' + CAST(nullif(nullif(least(greatest("__v_first_admission" + 1 - DATE '1970-01-01', -719163), 2932897), 2932897), -719163) AS INTEGER)) AS "__e4"
  FROM "apc_layer1_matched"
  GROUP BY "person_id"
),
"joined_1" AS (
  SELECT
    "variables_1".*,
    "gp_layer1_measures"."__e2",
    "apc_layer1_measures"."__e4"
  FROM "variables_1"
  LEFT JOIN "gp_layer1_measures" ON "gp_layer1_measures"."person_id" = "variables_1"."person_id"
  LEFT JOIN "apc_layer1_measures" ON "apc_layer1_measures"."person_id" = "variables_1"."person_id"
),
"variables_2" AS (
  SELECT
    *,
    coalesce("__e2", 0) > 0 AS "resolved_after",
    "__e4" AS "readmission"
  FROM "joined_1"
),
"gp_layer2_events" AS (
  SELECT
    "person_id" AS "person_id",
    "date" AS "date",
    CASE WHEN CAST("value" AS DOUBLE PRECISION) = CAST('NaN' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('Infinity' AS DOUBLE PRECISION) OR CAST("value" AS DOUBLE PRECISION) = CAST('-Infinity' AS DOUBLE PRECISION) THEN CAST(NULL AS DOUBLE PRECISION) ELSE CAST("value" AS DOUBLE PRECISION) END AS "value",
    "source" AS "source",
    "code" AS "code"
  FROM "gp"
  WHERE "code" IS NOT NULL AND "date" IS NOT NULL
),
"gp_layer2_with_variables" AS (
  SELECT
    "gp_layer2_events".*,
    "variables_2"."first_admission" AS "__v_first_admission",
    "variables_2"."readmission" AS "__v_readmission"
  FROM "gp_layer2_events"
  JOIN "variables_2" ON "variables_2"."person_id" = "gp_layer2_events"."person_id"
),
"gp_layer2_all_rows" AS (
  SELECT
    "person_id",
    count(*) FILTER (WHERE coalesce("date" > "__v_first_admission" AND "date" < "__v_readmission" AND "source" = 'gp', FALSE)) AS "__e5"
  FROM "gp_layer2_with_variables"
  GROUP BY "person_id"
),
"joined_2" AS (
  SELECT
    "variables_2".*,
    "gp_layer2_all_rows"."__e5"
  FROM "variables_2"
  LEFT JOIN "gp_layer2_all_rows" ON "gp_layer2_all_rows"."person_id" = "variables_2"."person_id"
),
"variables_3" AS (
  SELECT
    *,
    CAST(coalesce("__e5", 0) AS BIGINT) AS "in_between",
    "latest_dx" IS NOT NULL AND NOT "resolved_after" AS "active"
  FROM "joined_2"
),
"cohort" AS (
  SELECT
    "person_id",
    "latest_dx",
    "resolved_after",
    "first_admission",
    "readmission",
    "in_between",
    "active",
    coalesce("active", FALSE) AS "__rule_1"
  FROM "variables_3"
)
SELECT
  "person_id",
  "resolved_after",
  "readmission",
  "in_between",
  "__rule_1"
FROM "cohort";

-- The members.
SELECT
  "person_id" AS "person_id",
  "resolved_after",
  "readmission",
  "in_between"
FROM "caas_cohort_own_dates_cb116df1a42a"
WHERE "__rule_1"
ORDER BY "person_id" ASC NULLS FIRST;

-- The attrition.
WITH
"counts" AS (
  SELECT
    count(*) AS "passed_0",
    count(*) FILTER (WHERE "__rule_1") AS "passed_1"
  FROM "caas_cohort_own_dates_cb116df1a42a"
),
"attrition" AS (
  SELECT
    CAST(1 AS BIGINT) AS "step",
    'active' AS "rule",
    'include' AS "action",
    CAST("passed_0" AS BIGINT) AS "before",
    CAST("passed_1" AS BIGINT) AS "after",
    CAST("passed_0" - "passed_1" AS BIGINT) AS "removed"
  FROM "counts"
)
SELECT
  *
FROM "attrition"
ORDER BY "step" ASC NULLS LAST;
