-- Rooms and settings: the ground later migrations extend.
CREATE TABLE rooms (
    id          TEXT PRIMARY KEY NOT NULL,   -- long random id, never a small integer
    name        TEXT NOT NULL,
    language    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('creating', 'starting', 'ready', 'stopping', 'stopped', 'error')),
    error       TEXT,
    created_at  INTEGER NOT NULL,            -- unix milliseconds
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX rooms_by_created ON rooms (created_at DESC);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL                -- JSON
) STRICT;
