-- The data model's core (docs/design.md §7): tenancy, keys, assets, generations.

CREATE TABLE organizations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name             text NOT NULL,
    default_style    text,
    allowed_origins  text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id            text PRIMARY KEY,               -- public key id, part of the key itself
    project_id    bigint NOT NULL REFERENCES projects (id),
    kind          text NOT NULL CHECK (kind IN ('secret', 'publishable')),
    secret_hash   bytea NOT NULL,                  -- sha256 of the secret part; never the key
    name          text NOT NULL DEFAULT '',
    scopes        text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_keys_project ON api_keys (project_id);

CREATE TABLE assets (
    id               text PRIMARY KEY,             -- content-derived, see delivery.assets.ids
    project_id       bigint NOT NULL REFERENCES projects (id),
    source           text NOT NULL CHECK (source IN ('generated', 'uploaded')),
    storage_key      text NOT NULL,
    mime             text NOT NULL,
    width            integer NOT NULL CHECK (width > 0),
    height           integer NOT NULL CHECK (height > 0),
    bytes            bigint NOT NULL CHECK (bytes >= 0),
    focal_x          real NOT NULL DEFAULT 0.5 CHECK (focal_x BETWEEN 0 AND 1),
    focal_y          real NOT NULL DEFAULT 0.5 CHECK (focal_y BETWEEN 0 AND 1),
    alt_text         text NOT NULL DEFAULT '',
    tags             text[] NOT NULL DEFAULT '{}',
    colors           text[] NOT NULL DEFAULT '{}',
    prompt           text,
    enhanced_prompt  text,
    style            text,
    provider         text,
    model            text,
    offline          boolean NOT NULL DEFAULT false,
    generation_key   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    UNIQUE (project_id, generation_key)
);
CREATE INDEX assets_project_created ON assets (project_id, created_at DESC);

CREATE TABLE generations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id       bigint NOT NULL REFERENCES projects (id),
    generation_key   text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider         text NOT NULL,
    model            text NOT NULL,
    cost             numeric(12, 4) NOT NULL DEFAULT 0,
    latency_ms       integer,
    error            text,
    asset_id         text REFERENCES assets (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX generations_project_created ON generations (project_id, created_at DESC);
