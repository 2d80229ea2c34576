-- One prompt, one artwork: other aspects of a prompt's root master, and an upload's generative fill,
-- are derived masters, extended (outpainted) from their parent and stored once per aspect class.
-- Assets drawn before this migration keep their per-aspect generation keys and are still found by them
-- (the lookup tries a URL's old key first, delivery.prompts.targets), so no row is rewritten here.

ALTER TABLE assets ADD COLUMN parent_id text REFERENCES assets (id) ON DELETE CASCADE;
ALTER TABLE assets ADD COLUMN derivation text CHECK (derivation IN ('extend'));
ALTER TABLE assets ADD CONSTRAINT assets_derived_has_parent CHECK ((parent_id IS NULL) = (derivation IS NULL));
CREATE INDEX assets_parent ON assets (parent_id) WHERE parent_id IS NOT NULL;

-- The aspect class a project's roots are drawn at when a URL gives no `ar` (NULL: PROMPTPIX_ROOT_ASPECT).
ALTER TABLE projects ADD COLUMN root_aspect text
    CHECK (root_aspect IN ('1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'));
