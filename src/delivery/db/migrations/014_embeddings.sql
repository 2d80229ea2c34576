-- Semantic search (GET /v1/assets?q=, GET /v1/assets/{id}/similar): one embedding per asset, of the text that
-- describes it (alt text, tags, prompt), stored with pgvector and searched by cosine distance through HNSW.
-- pgvector must be available to this PostgreSQL (the embedded server ships it; docs/deploy.md for others).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        RAISE EXCEPTION 'promptpix needs the pgvector extension ("vector") in this PostgreSQL (docs/deploy.md)';
    END IF;
END $$;

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE asset_embeddings (
    asset_id    text PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    project_id  bigint NOT NULL REFERENCES projects (id),  -- the asset's: nearest-neighbour scans filter on it without a join
    model       text NOT NULL,                             -- vectors of different models are never compared
    text_hash   text NOT NULL,                             -- SHA-256 of the text embedded: the same text is not embedded twice
    embedding   vector(768) NOT NULL,                      -- unit length (generation.EMBEDDING_DIMENSIONS)
    embedded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX asset_embeddings_hnsw ON asset_embeddings USING hnsw (embedding vector_cosine_ops);
