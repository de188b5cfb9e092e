-- data quality of persons
WITH
`known_people` AS (
  SELECT
    `person_id` AS `__q_id`,
    min(CAST(`dob` AS DATE)) AS `__q_birth`,
    count(*) AS `__q_rows`
  FROM `persons`
  WHERE `person_id` IS NOT NULL
  GROUP BY `person_id`
)
SELECT
  count(*) AS `rows`,
  count(*) FILTER (WHERE `person_id` IS NULL OR `date_of_death` < CAST(`dob` AS DATE)) AS `excluded`,
  count(*) FILTER (WHERE `person_id` IS NULL) AS `finding_0`,
  count(*) FILTER (WHERE coalesce(`__q_rows` > 1, FALSE)) AS `finding_1`,
  count(*) FILTER (WHERE `dob` IS NULL) AS `finding_2`,
  count(*) FILTER (WHERE CAST(`dob` AS DATE) > DATE '2026-01-31' OR `date_of_death` > DATE '2026-01-31') AS `finding_3`,
  count(*) FILTER (WHERE CAST(`dob` AS DATE) < DATE '1900-01-01' OR `date_of_death` < DATE '1900-01-01') AS `finding_4`,
  count(*) FILTER (WHERE `date_of_death` < CAST(`dob` AS DATE)) AS `finding_5`,
  count(*) FILTER (WHERE `ndop` IS NULL OR `type1_opt_out` IS NULL) AS `finding_6`
FROM `persons` AS `__q_row`
LEFT JOIN `known_people` ON `known_people`.`__q_id` = `person_id`;

-- data quality of gp
WITH
`known_people` AS (
  SELECT
    `person_id` AS `__q_id`,
    min(CAST(`dob` AS DATE)) AS `__q_birth`,
    count(*) AS `__q_rows`
  FROM `persons`
  WHERE `person_id` IS NOT NULL
  GROUP BY `person_id`
),
`gp_code_values` AS (
  SELECT
    `code` AS `code`
  FROM `cdm`.`gp_events`
),
`gp_codes` AS (
  SELECT DISTINCT
    `code`
  FROM `gp_code_values`
  WHERE `code` IS NOT NULL
),
`gp_code_checks` AS (
  SELECT
    `code`,
    NOT CASE WHEN regexp_like(CAST(`code` AS STRING), '^[1-9][0-9]{5,17}$') THEN ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', 0 * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 0 THEN ascii(substr('0123456789', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 0, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 1 THEN ascii(substr('1576283094', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 1, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 2 THEN ascii(substr('5803796142', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 2, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 3 THEN ascii(substr('8916043527', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 3, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 4 THEN ascii(substr('9453126870', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 4, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 5 THEN ascii(substr('4286573901', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 5, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 6 THEN ascii(substr('2793806415', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 6, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 7 THEN ascii(substr('7046913258', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 7, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 8 THEN ascii(substr('0123456789', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 8, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 9 THEN ascii(substr('1576283094', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 9, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 10 THEN ascii(substr('5803796142', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 10, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 11 THEN ascii(substr('8916043527', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 11, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 12 THEN ascii(substr('9453126870', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 12, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 13 THEN ascii(substr('4286573901', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 13, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 14 THEN ascii(substr('2793806415', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 14, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 15 THEN ascii(substr('7046913258', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 15, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 16 THEN ascii(substr('0123456789', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 16, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 17 THEN ascii(substr('1576283094', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 17, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48 = 0 ELSE FALSE END AS `bad`
  FROM `gp_codes`
)
SELECT
  count(*) AS `rows`,
  count(*) FILTER (WHERE `person_id` IS NULL OR `__q_id` IS NOT NULL AND `date` < `__q_birth` OR coalesce(`__q_code_0`.`bad`, FALSE)) AS `excluded`,
  count(*) FILTER (WHERE `person_id` IS NULL) AS `finding_0`,
  count(*) FILTER (WHERE `person_id` IS NOT NULL AND `__q_id` IS NULL) AS `finding_1`,
  count(*) FILTER (WHERE `date` IS NULL) AS `finding_2`,
  count(*) FILTER (WHERE `date` > DATE '2026-01-31') AS `finding_3`,
  count(*) FILTER (WHERE `date` < DATE '1900-01-01') AS `finding_4`,
  count(*) FILTER (WHERE `__q_id` IS NOT NULL AND `date` < `__q_birth`) AS `finding_5`,
  count(*) FILTER (WHERE coalesce(`__q_code_0`.`bad`, FALSE)) AS `finding_6`,
  count(*) FILTER (WHERE CAST(`value` AS DOUBLE) = CAST('NaN' AS DOUBLE) OR CAST(`value` AS DOUBLE) = CAST('Infinity' AS DOUBLE) OR CAST(`value` AS DOUBLE) = CAST('-Infinity' AS DOUBLE)) AS `finding_7`
FROM `cdm`.`gp_events` AS `__q_row`
LEFT JOIN `known_people` ON `known_people`.`__q_id` = `person_id`
LEFT JOIN `gp_code_checks` AS `__q_code_0` ON `__q_code_0`.`code` = `__q_row`.`code`;

-- data quality of apc
WITH
`known_people` AS (
  SELECT
    `person_id` AS `__q_id`,
    min(CAST(`dob` AS DATE)) AS `__q_birth`,
    count(*) AS `__q_rows`
  FROM `persons`
  WHERE `person_id` IS NOT NULL
  GROUP BY `person_id`
),
`apc_code_values` AS (
  SELECT
    `diag_1` AS `code`
  FROM `apc`
  UNION ALL
  SELECT
    `diag_2` AS `code`
  FROM `apc`
),
`apc_codes` AS (
  SELECT DISTINCT
    `code`
  FROM `apc_code_values`
  WHERE `code` IS NOT NULL
),
`apc_code_checks` AS (
  SELECT
    `code`,
    NOT regexp_like(CASE WHEN length(upper(replace(trim(CAST(`code` AS STRING)), '.', ''))) > 3 THEN substr(upper(replace(trim(CAST(`code` AS STRING)), '.', '')), 1, 3) || TRIM(TRAILING 'X' FROM substr(upper(replace(trim(CAST(`code` AS STRING)), '.', '')), 4)) ELSE upper(replace(trim(CAST(`code` AS STRING)), '.', '')) END, '^[A-Z][0-9]{2}[A-Z0-9]{0,4}$') AS `bad`
  FROM `apc_codes`
)
SELECT
  count(*) AS `rows`,
  count(*) FILTER (WHERE `person_id` IS NULL OR `__q_id` IS NOT NULL AND `admidate` < `__q_birth` OR (coalesce(`__q_code_0`.`bad`, FALSE) OR coalesce(`__q_code_1`.`bad`, FALSE))) AS `excluded`,
  count(*) FILTER (WHERE `person_id` IS NULL) AS `finding_0`,
  count(*) FILTER (WHERE `person_id` IS NOT NULL AND `__q_id` IS NULL) AS `finding_1`,
  count(*) FILTER (WHERE `admidate` IS NULL) AS `finding_2`,
  count(*) FILTER (WHERE `admidate` > DATE '2026-01-31') AS `finding_3`,
  count(*) FILTER (WHERE `admidate` < DATE '1900-01-01') AS `finding_4`,
  count(*) FILTER (WHERE `__q_id` IS NOT NULL AND `admidate` < `__q_birth`) AS `finding_5`,
  count(*) FILTER (WHERE coalesce(`__q_code_0`.`bad`, FALSE) OR coalesce(`__q_code_1`.`bad`, FALSE)) AS `finding_6`
FROM `apc` AS `__q_row`
LEFT JOIN `known_people` ON `known_people`.`__q_id` = `person_id`
LEFT JOIN `apc_code_checks` AS `__q_code_0` ON `__q_code_0`.`code` = `__q_row`.`diag_1`
LEFT JOIN `apc_code_checks` AS `__q_code_1` ON `__q_code_1`.`code` = `__q_row`.`diag_2`;

-- data quality of registrations
WITH
`known_people` AS (
  SELECT
    `person_id` AS `__q_id`,
    min(CAST(`dob` AS DATE)) AS `__q_birth`,
    count(*) AS `__q_rows`
  FROM `persons`
  WHERE `person_id` IS NOT NULL
  GROUP BY `person_id`
)
SELECT
  count(*) AS `rows`,
  count(*) FILTER (WHERE `person_id` IS NULL OR `__q_id` IS NOT NULL AND `start_date` < `__q_birth`) AS `excluded`,
  count(*) FILTER (WHERE `person_id` IS NULL) AS `finding_0`,
  count(*) FILTER (WHERE `person_id` IS NOT NULL AND `__q_id` IS NULL) AS `finding_1`,
  count(*) FILTER (WHERE `start_date` IS NULL) AS `finding_2`,
  count(*) FILTER (WHERE `start_date` > DATE '2026-01-31') AS `finding_3`,
  count(*) FILTER (WHERE `start_date` < DATE '1900-01-01') AS `finding_4`,
  count(*) FILTER (WHERE `__q_id` IS NOT NULL AND `start_date` < `__q_birth`) AS `finding_5`
FROM `registrations` AS `__q_row`
LEFT JOIN `known_people` ON `known_people`.`__q_id` = `person_id`;

-- The cohort `asthma_research` in spark SQL, generated by caas 0.1.0.

-- The codelists as (code, variable index) tables, then every person's outputs and rule results.
CREATE OR REPLACE TEMPORARY VIEW `caas_codes_asthma_research_gp` AS
SELECT CAST(code AS STRING) AS code, CAST(variable AS INTEGER) AS variable FROM VALUES ('195967001', 0), ('195967001', 1), ('22298006', 0), ('22298006', 1), ('60621009', 2) AS t(code, variable);
CREATE OR REPLACE TEMPORARY VIEW `caas_codes_asthma_research_apc` AS
SELECT CAST(code AS STRING) AS code, CAST(variable AS INTEGER) AS variable FROM VALUES ('J45', 0), ('J46', 0) AS t(code, variable);
DROP VIEW IF EXISTS `caas_cohort_asthma_research_fc7629fc88ea`;
CACHE TABLE `caas_cohort_asthma_research_fc7629fc88ea` AS
WITH
`known_people` AS (
  SELECT
    `person_id` AS `__q_id`,
    min(CAST(`dob` AS DATE)) AS `__q_birth`,
    count(*) AS `__q_rows`
  FROM `persons`
  WHERE `person_id` IS NOT NULL
  GROUP BY `person_id`
),
`gp_code_values` AS (
  SELECT
    `code` AS `code`
  FROM `cdm`.`gp_events`
),
`gp_codes` AS (
  SELECT DISTINCT
    `code`
  FROM `gp_code_values`
  WHERE `code` IS NOT NULL
),
`gp_code_checks` AS (
  SELECT
    `code`,
    NOT CASE WHEN regexp_like(CAST(`code` AS STRING), '^[1-9][0-9]{5,17}$') THEN ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', (ascii(substr('0123456789123406789523401789563401289567401239567859876043216598710432765982104387659321049876543210', 0 * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 0 THEN ascii(substr('0123456789', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 0, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 1 THEN ascii(substr('1576283094', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 1, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 2 THEN ascii(substr('5803796142', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 2, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 3 THEN ascii(substr('8916043527', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 3, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 4 THEN ascii(substr('9453126870', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 4, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 5 THEN ascii(substr('4286573901', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 5, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 6 THEN ascii(substr('2793806415', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 6, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 7 THEN ascii(substr('7046913258', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 7, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 8 THEN ascii(substr('0123456789', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 8, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 9 THEN ascii(substr('1576283094', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 9, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 10 THEN ascii(substr('5803796142', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 10, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 11 THEN ascii(substr('8916043527', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 11, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 12 THEN ascii(substr('9453126870', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 12, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 13 THEN ascii(substr('4286573901', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 13, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 14 THEN ascii(substr('2793806415', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 14, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 15 THEN ascii(substr('7046913258', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 15, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 16 THEN ascii(substr('0123456789', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 16, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48) * 10 + CASE WHEN length(CAST(`code` AS STRING)) > 17 THEN ascii(substr('1576283094', ascii(substr(CAST(`code` AS STRING), length(CAST(`code` AS STRING)) - 17, 1)) - 48 + 1, 1)) - 48 ELSE 0 END + 1, 1)) - 48 = 0 ELSE FALSE END AS `bad`
  FROM `gp_codes`
),
`apc_code_values` AS (
  SELECT
    `diag_1` AS `code`
  FROM `apc`
  UNION ALL
  SELECT
    `diag_2` AS `code`
  FROM `apc`
),
`apc_codes` AS (
  SELECT DISTINCT
    `code`
  FROM `apc_code_values`
  WHERE `code` IS NOT NULL
),
`apc_code_checks` AS (
  SELECT
    `code`,
    NOT regexp_like(CASE WHEN length(upper(replace(trim(CAST(`code` AS STRING)), '.', ''))) > 3 THEN substr(upper(replace(trim(CAST(`code` AS STRING)), '.', '')), 1, 3) || TRIM(TRAILING 'X' FROM substr(upper(replace(trim(CAST(`code` AS STRING)), '.', '')), 4)) ELSE upper(replace(trim(CAST(`code` AS STRING)), '.', '')) END, '^[A-Z][0-9]{2}[A-Z0-9]{0,4}$') AS `bad`
  FROM `apc_codes`
),
`persons_kept` AS (
  SELECT
    `__q_row`.*
  FROM `persons` AS `__q_row`
  WHERE NOT coalesce(`person_id` IS NULL OR `date_of_death` < CAST(`dob` AS DATE), FALSE)
),
`gp_kept` AS (
  SELECT
    `__q_row`.*
  FROM `cdm`.`gp_events` AS `__q_row`
  LEFT JOIN `known_people` ON `known_people`.`__q_id` = `person_id`
  LEFT JOIN `gp_code_checks` AS `__q_code_0` ON `__q_code_0`.`code` = `__q_row`.`code`
  WHERE NOT coalesce(`__q_id` IS NOT NULL AND `date` < `__q_birth` OR coalesce(`__q_code_0`.`bad`, FALSE), FALSE)
),
`apc_kept` AS (
  SELECT
    `__q_row`.*
  FROM `apc` AS `__q_row`
  LEFT JOIN `known_people` ON `known_people`.`__q_id` = `person_id`
  LEFT JOIN `apc_code_checks` AS `__q_code_0` ON `__q_code_0`.`code` = `__q_row`.`diag_1`
  LEFT JOIN `apc_code_checks` AS `__q_code_1` ON `__q_code_1`.`code` = `__q_row`.`diag_2`
  WHERE NOT coalesce(`__q_id` IS NOT NULL AND `admidate` < `__q_birth` OR (coalesce(`__q_code_0`.`bad`, FALSE) OR coalesce(`__q_code_1`.`bad`, FALSE)), FALSE)
),
`registrations_kept` AS (
  SELECT
    `__q_row`.*
  FROM `registrations` AS `__q_row`
  LEFT JOIN `known_people` ON `known_people`.`__q_id` = `person_id`
  WHERE NOT coalesce(`__q_id` IS NOT NULL AND `start_date` < `__q_birth`, FALSE)
),
`persons_step` AS (
  SELECT
    `person_id` AS `person_id`,
    CAST(`dob` AS DATE) AS `__p_date_of_birth`,
    `sex` AS `__p_sex`,
    `date_of_death` AS `__p_date_of_death`,
    `ndop` AS `__p_national_opt_out`,
    `type1_opt_out` AS `__p_type1_opt_out`,
    `region` AS `__p_region`
  FROM `persons_kept`
),
`persons_opted_in` AS (
  SELECT
    *
  FROM `persons_step`
  WHERE NOT (FALSE OR coalesce(`__p_national_opt_out`, FALSE) OR coalesce(`__p_type1_opt_out`, FALSE))
),
`gp_events_step` AS (
  SELECT
    `person_id` AS `person_id`,
    `date` AS `date`,
    CASE WHEN CAST(`value` AS DOUBLE) = CAST('NaN' AS DOUBLE) OR CAST(`value` AS DOUBLE) = CAST('Infinity' AS DOUBLE) OR CAST(`value` AS DOUBLE) = CAST('-Infinity' AS DOUBLE) THEN CAST(NULL AS DOUBLE) ELSE CAST(`value` AS DOUBLE) END AS `value`,
    `source` AS `source`,
    `code` AS `code`
  FROM `gp_kept`
  WHERE `code` IS NOT NULL AND `date` IS NOT NULL
),
`gp_matched` AS (
  SELECT
    `gp_events_step`.*,
    `caas_codes_asthma_research_gp`.`variable` AS `__variable`
  FROM `gp_events_step`
  JOIN `caas_codes_asthma_research_gp` ON `caas_codes_asthma_research_gp`.`code` = `gp_events_step`.`code`
),
`gp_measures` AS (
  SELECT
    `person_id`,
    count(*) FILTER (WHERE `__variable` = 0 AND (`date` >= DATE '2020-01-01' AND `date` <= DATE '2025-03-31')) AS `__e1`,
    max_by(`code`, struct(`date`, `code`, `value`)) FILTER (WHERE `__variable` = 1 AND TRUE) AS `__e2`,
    max_by(`value`, struct(`date`, `code`, `value`)) FILTER (WHERE `__variable` = 2 AND (`value` >= CAST(50.0 AS DOUBLE) AND `value` <= CAST(900.0 AS DOUBLE) AND coalesce(`source` = 'gp', FALSE))) AS `__e3`
  FROM `gp_matched`
  GROUP BY `person_id`
),
`gp_all_rows` AS (
  SELECT
    `person_id`,
    count(*) FILTER (WHERE `date` <= DATE '2025-03-31') AS `__e4`
  FROM `gp_events_step`
  GROUP BY `person_id`
),
`apc_codes_step` AS (
  SELECT
    `person_id` AS `person_id`,
    `admidate` AS `date`,
    `diag_1` AS `code`
  FROM `apc_kept`
  WHERE `admidate` >= DATE '2024-03-31'
  UNION ALL
  SELECT
    `person_id` AS `person_id`,
    `admidate` AS `date`,
    `diag_2` AS `code`
  FROM `apc_kept`
  WHERE `admidate` >= DATE '2024-03-31'
),
`apc_events` AS (
  SELECT
    *
  FROM `apc_codes_step`
  WHERE `code` IS NOT NULL AND `date` IS NOT NULL
),
`apc_bare` AS (
  SELECT
    *,
    upper(replace(trim(CAST(`code` AS STRING)), '.', '')) AS `__bare`
  FROM `apc_events`
),
`apc_normalised` AS (
  SELECT
    *,
    CASE WHEN length(`__bare`) > 3 THEN substr(`__bare`, 1, 3) || TRIM(TRAILING 'X' FROM substr(`__bare`, 4)) ELSE `__bare` END AS `__normalised`
  FROM `apc_bare`
),
`apc_prefixes` AS (
  SELECT
    *,
    substr(`__normalised`, 1, 3) AS `__prefix`
  FROM `apc_normalised`
  WHERE length(`__normalised`) >= 3
),
`apc_matched` AS (
  SELECT
    `apc_prefixes`.*,
    `caas_codes_asthma_research_apc`.`variable` AS `__variable`
  FROM `apc_prefixes`
  JOIN `caas_codes_asthma_research_apc` ON `caas_codes_asthma_research_apc`.`code` = `apc_prefixes`.`__prefix`
),
`apc_measures` AS (
  SELECT
    `person_id`,
    min(`date`) FILTER (WHERE `__variable` = 0 AND `date` >= DATE '2024-03-31') AS `__e5`
  FROM `apc_matched`
  GROUP BY `person_id`
),
`registrations_periods` AS (
  SELECT
    `person_id` AS `person_id`,
    `start_date` AS `start_date`,
    `end_date` AS `end_date`,
    `practice` AS `practice`
  FROM `registrations_kept`
  WHERE `start_date` <= DATE '2025-03-31' AND (`end_date` IS NULL OR `end_date` >= DATE '2025-03-31')
),
`registrations_measures` AS (
  SELECT
    `person_id`,
    count(*) FILTER (WHERE `start_date` <= DATE '2025-03-31' AND (`end_date` IS NULL OR `end_date` >= DATE '2025-03-31')) AS `__r6`,
    max_by(`practice`, struct(`start_date`, `practice`)) FILTER (WHERE `start_date` <= DATE '2025-03-31' AND (`end_date` IS NULL OR `end_date` >= DATE '2025-03-31')) AS `__r7`
  FROM `registrations_periods`
  GROUP BY `person_id`
),
`adult__persons` AS (
  SELECT
    `person_id` AS `person_id`,
    CAST(`dob` AS DATE) AS `__p_date_of_birth`,
    `sex` AS `__p_sex`,
    `date_of_death` AS `__p_date_of_death`,
    `ndop` AS `__p_national_opt_out`,
    `type1_opt_out` AS `__p_type1_opt_out`,
    `region` AS `__p_region`
  FROM `persons_kept`
),
`adult__persons_opted_in` AS (
  SELECT
    *
  FROM `adult__persons`
  WHERE NOT (FALSE OR coalesce(`__p_national_opt_out`, FALSE) OR coalesce(`__p_type1_opt_out`, FALSE))
),
`adult__joined` AS (
  SELECT
    `adult__persons_opted_in`.*
  FROM `adult__persons_opted_in`
),
`adult__variables_1` AS (
  SELECT
    *,
    CAST(EXTRACT(YEAR FROM DATE '2025-03-31') - EXTRACT(YEAR FROM `__p_date_of_birth`) - CASE WHEN DATE '2025-03-31' >= `__p_date_of_birth` AND EXTRACT(MONTH FROM DATE '2025-03-31') * 100 + EXTRACT(DAY FROM DATE '2025-03-31') < EXTRACT(MONTH FROM `__p_date_of_birth`) * 100 + EXTRACT(DAY FROM `__p_date_of_birth`) THEN 1 WHEN NOT DATE '2025-03-31' >= `__p_date_of_birth` AND EXTRACT(MONTH FROM `__p_date_of_birth`) * 100 + EXTRACT(DAY FROM `__p_date_of_birth`) > EXTRACT(MONTH FROM DATE '2025-03-31') * 100 + EXTRACT(DAY FROM DATE '2025-03-31') AND NOT (EXTRACT(MONTH FROM `__p_date_of_birth`) = EXTRACT(MONTH FROM DATE '2025-03-31') AND EXTRACT(DAY FROM date_add(DATE '2025-03-31', 1)) = 1) THEN 1 ELSE 0 END AS BIGINT) AS `age`
  FROM `adult__joined`
),
`adult__cohort` AS (
  SELECT
    `person_id`,
    `age`,
    coalesce(`age` >= 18, FALSE) AS `__rule_1`
  FROM `adult__variables_1`
),
`adult__members` AS (
  SELECT DISTINCT
    `person_id`,
    TRUE AS `__member8`
  FROM `adult__cohort`
  WHERE `__rule_1`
),
`joined` AS (
  SELECT
    `persons_opted_in`.*,
    `gp_measures`.`__e1`,
    `gp_measures`.`__e2`,
    `gp_measures`.`__e3`,
    `gp_all_rows`.`__e4`,
    `apc_measures`.`__e5`,
    `registrations_measures`.`__r6`,
    `registrations_measures`.`__r7`,
    `adult__members`.`__member8`
  FROM `persons_opted_in`
  LEFT JOIN `gp_measures` ON `gp_measures`.`person_id` = `persons_opted_in`.`person_id`
  LEFT JOIN `gp_all_rows` ON `gp_all_rows`.`person_id` = `persons_opted_in`.`person_id`
  LEFT JOIN `apc_measures` ON `apc_measures`.`person_id` = `persons_opted_in`.`person_id`
  LEFT JOIN `registrations_measures` ON `registrations_measures`.`person_id` = `persons_opted_in`.`person_id`
  LEFT JOIN `adult__members` ON `adult__members`.`person_id` = `persons_opted_in`.`person_id`
),
`variables_1` AS (
  SELECT
    *,
    coalesce(`__member8`, FALSE) AS `adult`,
    CAST(EXTRACT(YEAR FROM DATE '2025-03-31') - EXTRACT(YEAR FROM `__p_date_of_birth`) - CASE WHEN DATE '2025-03-31' >= `__p_date_of_birth` AND EXTRACT(MONTH FROM DATE '2025-03-31') * 100 + EXTRACT(DAY FROM DATE '2025-03-31') < EXTRACT(MONTH FROM `__p_date_of_birth`) * 100 + EXTRACT(DAY FROM `__p_date_of_birth`) THEN 1 WHEN NOT DATE '2025-03-31' >= `__p_date_of_birth` AND EXTRACT(MONTH FROM `__p_date_of_birth`) * 100 + EXTRACT(DAY FROM `__p_date_of_birth`) > EXTRACT(MONTH FROM DATE '2025-03-31') * 100 + EXTRACT(DAY FROM DATE '2025-03-31') AND NOT (EXTRACT(MONTH FROM `__p_date_of_birth`) = EXTRACT(MONTH FROM DATE '2025-03-31') AND EXTRACT(DAY FROM date_add(DATE '2025-03-31', 1)) = 1) THEN 1 ELSE 0 END AS BIGINT) AS `age`,
    CAST(`__p_sex` AS STRING) AS `sex`,
    `__p_date_of_death` IS NULL OR `__p_date_of_death` > DATE '2025-03-31' AS `alive`,
    `__p_region` AS `region`,
    coalesce(`__e1`, 0) > 0 AS `asthma`,
    CAST(`__e2` AS STRING) AS `asthma_code`,
    `__e3` AS `flow`,
    CAST(coalesce(`__e4`, 0) AS BIGINT) AS `gp_events`,
    `__e5` AS `admitted`,
    coalesce(`__r6`, 0) > 0 AS `registered`,
    `__r7` AS `practice`
  FROM `joined`
),
`variables_2` AS (
  SELECT
    *,
    CASE WHEN `age` < 40 THEN 'young' ELSE 'older' END AS `age_band`
  FROM `variables_1`
),
`variables_3` AS (
  SELECT
    *,
    `admitted` IS NOT NULL AND `age_band` = 'young' AS `recent`
  FROM `variables_2`
),
`cohort` AS (
  SELECT
    `person_id`,
    `adult`,
    `age`,
    `sex`,
    `alive`,
    `region`,
    `asthma`,
    `asthma_code`,
    `flow`,
    `gp_events`,
    `admitted`,
    `registered`,
    `practice`,
    `age_band`,
    `recent`,
    coalesce(`adult`, FALSE) AS `__rule_1`,
    coalesce(`asthma` AND `alive` AND `registered`, FALSE) AS `__rule_2`,
    NOT coalesce(`recent`, FALSE) AS `__rule_3`
  FROM `variables_3`
)
SELECT
  `person_id`,
  `age`,
  `sex`,
  `practice`,
  `__rule_1`,
  `__rule_2`,
  `__rule_3`
FROM `cohort`;

-- The members.
SELECT
  `person_id` AS `person_id`,
  `age`,
  `sex`,
  `practice`
FROM `caas_cohort_asthma_research_fc7629fc88ea`
WHERE `__rule_1` AND `__rule_2` AND `__rule_3`
ORDER BY `person_id` ASC NULLS FIRST;

-- The attrition.
WITH
`persons_kept` AS (
  SELECT
    `__q_row`.*
  FROM `persons` AS `__q_row`
  WHERE NOT coalesce(`person_id` IS NULL OR `date_of_death` < CAST(`dob` AS DATE), FALSE)
),
`persons_step` AS (
  SELECT
    `person_id` AS `person_id`,
    CAST(`dob` AS DATE) AS `__p_date_of_birth`,
    `sex` AS `__p_sex`,
    `date_of_death` AS `__p_date_of_death`,
    `ndop` AS `__p_national_opt_out`,
    `type1_opt_out` AS `__p_type1_opt_out`,
    `region` AS `__p_region`
  FROM `persons_kept`
),
`people` AS (
  SELECT
    count(*) AS `people`
  FROM `persons_step`
),
`counts` AS (
  SELECT
    count(*) AS `passed_0`,
    count(*) FILTER (WHERE `__rule_1`) AS `passed_1`,
    count(*) FILTER (WHERE `__rule_1` AND `__rule_2`) AS `passed_2`,
    count(*) FILTER (WHERE `__rule_1` AND `__rule_2` AND `__rule_3`) AS `passed_3`
  FROM `caas_cohort_asthma_research_fc7629fc88ea`
),
`attrition` AS (
  SELECT
    CAST(1 AS BIGINT) AS `step`,
    'national data opt-out or type 1 opt-out' AS `rule`,
    'exclude' AS `action`,
    CAST(`people` AS BIGINT) AS `before`,
    CAST(`passed_0` AS BIGINT) AS `after`,
    CAST(`people` - `passed_0` AS BIGINT) AS `removed`
  FROM `counts`
  JOIN `people` ON TRUE
  UNION ALL
  SELECT
    CAST(2 AS BIGINT) AS `step`,
    'adult' AS `rule`,
    'include' AS `action`,
    CAST(`passed_0` AS BIGINT) AS `before`,
    CAST(`passed_1` AS BIGINT) AS `after`,
    CAST(`passed_0` - `passed_1` AS BIGINT) AS `removed`
  FROM `counts`
  JOIN `people` ON TRUE
  UNION ALL
  SELECT
    CAST(3 AS BIGINT) AS `step`,
    'asthma' AS `rule`,
    'include' AS `action`,
    CAST(`passed_1` AS BIGINT) AS `before`,
    CAST(`passed_2` AS BIGINT) AS `after`,
    CAST(`passed_1` - `passed_2` AS BIGINT) AS `removed`
  FROM `counts`
  JOIN `people` ON TRUE
  UNION ALL
  SELECT
    CAST(4 AS BIGINT) AS `step`,
    'recent admission' AS `rule`,
    'exclude' AS `action`,
    CAST(`passed_2` AS BIGINT) AS `before`,
    CAST(`passed_3` AS BIGINT) AS `after`,
    CAST(`passed_2` - `passed_3` AS BIGINT) AS `removed`
  FROM `counts`
  JOIN `people` ON TRUE
)
SELECT
  *
FROM `attrition`
ORDER BY `step` ASC NULLS LAST;
