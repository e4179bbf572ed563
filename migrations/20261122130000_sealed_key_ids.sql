-- Owns: everreach_sealed_key_ids(), the one read of secret columns across tenants:
-- which keys the stored sealed values name, as key ids and counts, never a value.
-- Start-up refuses to run when a stored value names a key that is not configured,
-- and `everreach keys rotate` retires a key only once no stored value names it
-- (core::secrets::usage). Only the owner role (which runs migrations and start-up
-- checks) may call it; the app role may not.

-- For one secret column: each (format, key id) its values carry, with how many values
-- carry it; legacy plaintext counts under (NULL, NULL). A JSONB column is sealed when
-- it holds exactly {"sealed": "er…"} (core::secrets::columns::Shape::JsonObject).
CREATE FUNCTION everreach_sealed_key_ids(p_table regclass, p_column name)
    RETURNS TABLE (format text, key_id text, n_values bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_type regtype;
    v_value text;
BEGIN
    SELECT a.atttypid::regtype INTO v_type
    FROM pg_attribute a
    WHERE a.attrelid = p_table AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF v_type IS NULL THEN
        RAISE EXCEPTION 'everreach_sealed_key_ids: % has no column %', p_table, p_column;
    END IF;
    IF v_type = 'jsonb'::regtype THEN
        v_value := format(
            'CASE WHEN jsonb_typeof(%1$I) = ''object'' AND %1$I - ''sealed'' = ''{}''::jsonb'
            ' THEN %1$I ->> ''sealed'' END', p_column);
    ELSE
        v_value := format('%I::text', p_column);
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT m[1], m[2], count(*) FROM ('
        '  SELECT regexp_match(%s, ''^(er[0-9]+):([^:]*):'') AS m FROM %s WHERE %I IS NOT NULL'
        ') v GROUP BY 1, 2 ORDER BY 1, 2',
        v_value, p_table, p_column);
END;
$$;

-- everreach_definer reads the secret columns (the ciphertext only: no other column,
-- and never for the app). A new secret column is granted here too, in its migration.
GRANT SELECT (access_token, refresh_token, id_token) ON accounts TO everreach_definer;
GRANT SELECT (access_token, refresh_token) ON platform_connections TO everreach_definer;
GRANT SELECT (access_token) ON ig_connections TO everreach_definer;
GRANT SELECT (config) ON connector_configs TO everreach_definer;

ALTER FUNCTION everreach_sealed_key_ids(regclass, name) OWNER TO everreach_definer;
REVOKE ALL ON FUNCTION everreach_sealed_key_ids(regclass, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION everreach_sealed_key_ids(regclass, name) TO CURRENT_USER;
