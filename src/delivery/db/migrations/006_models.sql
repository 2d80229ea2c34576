-- Prompt safety: each project's own blocked and allowed terms, on top of the deployment's
-- (PROMPTPIX_PROMPT_BLOCKLIST, PROMPTPIX_PROMPT_ALLOWLIST). Stored normalised: trimmed, lower-case.
ALTER TABLE projects
    ADD COLUMN prompt_blocklist text[] NOT NULL DEFAULT '{}',
    ADD COLUMN prompt_allowlist text[] NOT NULL DEFAULT '{}';

-- A provider's cost per generation is a fraction of a cent for some models (FLUX schnell: 0.003,
-- plus prediction seconds at a per-second rate): four decimals would round it away.
ALTER TABLE generations ALTER COLUMN cost TYPE numeric(16, 8);
