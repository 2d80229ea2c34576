-- Every change to what an asset's URLs show bumps its version (which enters the variant key and ETag)
-- and tells every process sharing the database, on the channel `promptpix_assets`, to drop what it cached.
-- In triggers, so every writer (API, console, CLI, sweep, a generation restoring a deleted asset) is covered.
-- The payload is JSON: {"asset": id, "project": project id, "version": n} or, for a moved @name,
-- {"name": name, "project": project id, "asset": the asset it pointed at}. NOTIFY is delivered at commit.

ALTER TABLE assets ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE FUNCTION assets_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.focal_x, NEW.focal_y, NEW.deleted_at, NEW.alt_text, NEW.tags, NEW.storage_key)
       IS DISTINCT FROM (OLD.focal_x, OLD.focal_y, OLD.deleted_at, OLD.alt_text, OLD.tags, OLD.storage_key) THEN
        NEW.version := OLD.version + 1;
        PERFORM pg_notify('promptpix_assets',
                          json_build_object('asset', NEW.id, 'project', NEW.project_id, 'version', NEW.version)::text);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER assets_version BEFORE UPDATE ON assets FOR EACH ROW EXECUTE FUNCTION assets_bump_version();

CREATE FUNCTION assets_notify_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('promptpix_assets',
                      json_build_object('asset', OLD.id, 'project', OLD.project_id, 'version', OLD.version + 1)::text);
    RETURN OLD;
END $$;

CREATE TRIGGER assets_removed AFTER DELETE ON assets FOR EACH ROW EXECUTE FUNCTION assets_notify_removed();

CREATE FUNCTION asset_names_notify_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.asset_id IS DISTINCT FROM OLD.asset_id THEN
        PERFORM pg_notify('promptpix_assets',
                          json_build_object('name', OLD.name, 'project', OLD.project_id, 'asset', OLD.asset_id)::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER asset_names_moved AFTER UPDATE OR DELETE ON asset_names FOR EACH ROW EXECUTE FUNCTION asset_names_notify_moved();

-- Full-text search (GET /v1/assets?q=): a weighted document of what describes an asset, alt text and tags
-- first. IMMUTABLE (array_to_string of text[] is), so it can be indexed; the index is per text search
-- configuration (PROMPTPIX_SEARCH_LANGUAGE): this one is English's, the app creates another's at start.
CREATE FUNCTION promptpix_search_vector(cfg regconfig, prompt text, enhanced text, alt text, tags text[])
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector(cfg, coalesce(alt, '')), 'A')
        || setweight(to_tsvector(cfg, array_to_string(coalesce(tags, '{}'), ' ')), 'A')
        || setweight(to_tsvector(cfg, coalesce(prompt, '')), 'B')
        || setweight(to_tsvector(cfg, coalesce(enhanced, '')), 'C')
$$;

CREATE INDEX assets_search_english ON assets
    USING gin (promptpix_search_vector('english', prompt, enhanced_prompt, alt_text, tags)) WHERE deleted_at IS NULL;
