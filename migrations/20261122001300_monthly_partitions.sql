-- Owns: create_monthly_partitions(), the monthly partitions of every partitioned table
-- (emails, events, content_performance, analytics.events,
-- analytics.performance_metrics), and the first months of them.
-- Seeds: 002 ("Automatic partition creation via pg_partman", which this replaces),
-- 003 (monthly ClickHouse partitions, content_performance_y2024m01). DESIGN §9:
-- partitions are created ahead of the rows that need them — upkeep keeps the next
-- months ready, an import first creates the months its dates fall in — and there is
-- no DEFAULT partition: once a default holds a month's rows, that month's partition
-- cannot be created until they are moved out.

-- Creates, for every month from p_from through p_to (inclusive), each missing
-- partition <table>_YYYY_MM of every range-partitioned table in public, analytics and
-- ml_data; returns how many it created. Idempotent.
--
-- SECURITY DEFINER, owned by the tables' owner: only the owner may add partitions,
-- and job workers run upkeep as everreach_app. Names come from the catalog and are
-- quoted; the only inputs are two dates. Months are UTC months whatever the caller's
-- TimeZone, so every caller computes the same bounds.
CREATE FUNCTION create_monthly_partitions(p_from date, p_to date) RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, public
    SET "TimeZone" = 'UTC'
    AS $$
DECLARE
    v_parent record;
    v_month date;
    v_name text;
    v_created integer := 0;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to < p_from THEN
        RAISE EXCEPTION 'create_monthly_partitions: need p_from <= p_to (got % and %)', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a guard against a stray date (year 20 for 2020), not a business rule
    IF (date_part('year', p_to) - date_part('year', p_from)) * 12
       + date_part('month', p_to) - date_part('month', p_from) >= 1200 THEN
        RAISE EXCEPTION 'create_monthly_partitions: % to % spans 100 years or more', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR v_parent IN
        SELECT n.nspname AS schema_name, c.relname AS table_name
          FROM pg_partitioned_table pt
          JOIN pg_class c ON c.oid = pt.partrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE pt.partstrat = 'r'
           AND pt.partnatts = 1
           AND NOT c.relispartition
           AND n.nspname IN ('public', 'analytics', 'ml_data')
         ORDER BY 1, 2
    LOOP
        FOR v_month IN
            SELECT generate_series(date_trunc('month', p_from), date_trunc('month', p_to), interval '1 month')::date
        LOOP
            v_name := v_parent.table_name || '_' || to_char(v_month, 'YYYY_MM');
            CONTINUE WHEN EXISTS (
                SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = v_parent.schema_name AND c.relname = v_name);
            EXECUTE format(
                'CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                v_parent.schema_name, v_name, v_parent.schema_name, v_parent.table_name,
                v_month::timestamptz, (v_month + interval '1 month')::timestamptz);
            v_created := v_created + 1;
        END LOOP;
    END LOOP;
    RETURN v_created;
END;
$$;

COMMENT ON FUNCTION create_monthly_partitions(date, date) IS
    'Creates every missing monthly partition <table>_YYYY_MM (UTC months) of every partitioned table for the months p_from..p_to inclusive; returns how many it created. Run by upkeep (next months) and before imports (their months).';

REVOKE ALL ON FUNCTION create_monthly_partitions(date, date) FROM PUBLIC;

-- Last month (late rows) through three months ahead; upkeep keeps the window moving.
SELECT create_monthly_partitions(
    (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date,
    (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months')::date);
