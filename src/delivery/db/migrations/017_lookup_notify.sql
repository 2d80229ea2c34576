-- Every change to a row a `/g/` hit reads from the per-process lookup caches (delivery.assets.lookups)
-- tells every process sharing the database, on the channel `promptpix_lookups`, to drop its copy.
-- In triggers, so every writer (API, console, CLI, plain SQL) is covered; NOTIFY is delivered at commit.
-- The payload is JSON: {"table": the table, "project": its project id or null, "name": the row's key}, where the
-- key is the column named by the trigger's argument (a key's id, a signing secret's key id, a style's name…).
-- A write that changes only `last_used_at` of a key (the batched use record) is not a change anyone caches.

CREATE FUNCTION promptpix_lookup_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) - 'last_used_at' END;
    new_row jsonb := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) - 'last_used_at' END;
    changed jsonb;
BEGIN
    IF old_row IS NOT DISTINCT FROM new_row THEN
        RETURN NULL;
    END IF;
    -- A row moved to another key (a renamed style, a key moved between projects) is a change to both.
    FOREACH changed IN ARRAY ARRAY[old_row, new_row] LOOP
        IF changed IS NOT NULL THEN
            PERFORM pg_notify('promptpix_lookups', json_build_object(
                'table', TG_TABLE_NAME,
                'project', CASE WHEN TG_TABLE_NAME = 'projects' THEN changed ->> 'id' ELSE changed ->> 'project_id' END,
                'name', changed ->> TG_ARGV[0])::text);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER projects_lookup AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION promptpix_lookup_changed('slug');
CREATE TRIGGER api_keys_lookup AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION promptpix_lookup_changed('id');
CREATE TRIGGER signing_secrets_lookup AFTER INSERT OR UPDATE OR DELETE ON signing_secrets
    FOR EACH ROW EXECUTE FUNCTION promptpix_lookup_changed('key_id');
CREATE TRIGGER styles_lookup AFTER INSERT OR UPDATE OR DELETE ON styles
    FOR EACH ROW EXECUTE FUNCTION promptpix_lookup_changed('name');
CREATE TRIGGER presets_lookup AFTER INSERT OR UPDATE OR DELETE ON presets
    FOR EACH ROW EXECUTE FUNCTION promptpix_lookup_changed('name');
CREATE TRIGGER models_lookup AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION promptpix_lookup_changed('name');
