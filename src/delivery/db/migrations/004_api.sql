-- The /v1 API (docs/api.md): idempotency keys, flows of chained generations, project presets.

-- The first response to a POST with an `Idempotency-Key`, replayed to every retry.
-- `status` is NULL while the first request runs; `locked_until` lets a retry take over
-- a key whose first request died with its process.
CREATE TABLE idempotency_keys (
    project_id    bigint NOT NULL REFERENCES projects (id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint   bytea NOT NULL,               -- sha256 of method, path and the decoded body
    status        integer,
    response      bytea,
    locked_until  timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (project_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

CREATE TABLE flows (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES projects (id),
    title       text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, id)
);

-- Step n of a flow: `@step{n}` to later steps; the latest is `@prev`.
CREATE TABLE flow_steps (
    flow_id     bigint NOT NULL REFERENCES flows (id),
    position    integer NOT NULL CHECK (position > 0),
    asset_id    text NOT NULL REFERENCES assets (id),
    prompt      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, position)
);
CREATE INDEX flow_steps_asset ON flow_steps (asset_id);

-- Named transform presets of a project, beside the built-ins; `query` is canonical (delivery.images.params).
CREATE TABLE presets (
    project_id  bigint NOT NULL REFERENCES projects (id),
    name        text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?$'),
    query       text NOT NULL CHECK (length(query) BETWEEN 1 AND 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);

-- Keyset pagination of GET /v1/assets, newest first.
CREATE INDEX assets_project_page ON assets (project_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX assets_tags ON assets USING gin (tags);
