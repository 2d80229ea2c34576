-- Prompt safety: each project's own blocked and allowed terms, on top of the deployment's
-- (PROMPTPIX_PROMPT_BLOCKLIST, PROMPTPIX_PROMPT_ALLOWLIST). Stored normalised: trimmed, lower-case.
ALTER TABLE projects
    ADD COLUMN prompt_blocklist text[] NOT NULL DEFAULT '{}',
    ADD COLUMN prompt_allowlist text[] NOT NULL DEFAULT '{}';

-- A provider's cost per generation is a fraction of a cent for some models (FLUX schnell: 0.003,
-- plus prediction seconds at a per-second rate): four decimals would round it away.
ALTER TABLE generations ALTER COLUMN cost TYPE numeric(16, 8);

-- The model catalogue: what `model=` may name. `version` is what the provider is asked for and what
-- the generation key pins (a Gemini model name, a Replicate `owner/name:version`); `family` groups
-- models that can stand in for each other, tried in `fallback_rank` order when a provider is down.
CREATE TABLE models (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    provider        text NOT NULL CHECK (provider IN ('gemini', 'replicate', 'offline')),
    version         text NOT NULL CHECK (version <> ''),
    family          text NOT NULL DEFAULT '',
    text_to_image   boolean NOT NULL DEFAULT true,
    edit            boolean NOT NULL DEFAULT false,
    max_references  integer NOT NULL DEFAULT 0 CHECK (max_references >= 0),
    price           integer NOT NULL CHECK (price >= 0),
    fallback_rank   integer NOT NULL DEFAULT 0,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A project's default model and allow-list (empty: every enabled model).
ALTER TABLE projects
    ADD COLUMN default_model text REFERENCES models (name) ON DELETE SET NULL,
    ADD COLUMN allowed_models text[] NOT NULL DEFAULT '{}';

-- Settlement (PROMPTPIX_BILLING_MODE=cost): after a generation succeeds, the part of its reservation
-- that its provider cost does not use is given back, once, as a `settle` entry.
ALTER TABLE ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check CHECK (kind IN ('grant', 'debit', 'refund', 'adjustment', 'settle'));
ALTER TABLE ledger DROP CONSTRAINT ledger_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_check CHECK ((kind IN ('debit', 'refund', 'settle')) = (generation_id IS NOT NULL));
