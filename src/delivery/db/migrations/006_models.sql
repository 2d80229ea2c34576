-- Prompt safety: each project's own blocked and allowed terms, on top of the deployment's
-- (PROMPTPIX_PROMPT_BLOCKLIST, PROMPTPIX_PROMPT_ALLOWLIST). Stored normalised: trimmed, lower-case.
ALTER TABLE projects
    ADD COLUMN prompt_blocklist text[] NOT NULL DEFAULT '{}',
    ADD COLUMN prompt_allowlist text[] NOT NULL DEFAULT '{}';
