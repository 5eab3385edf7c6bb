-- Room links: one row per issued token (its `jti`), so a link can be revoked.
CREATE TABLE links (
    id          TEXT PRIMARY KEY NOT NULL,
    room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('interviewer', 'candidate', 'observer')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX links_by_room ON links (room_id);

-- The shared document of each room as Yjs (v1) updates; compaction replaces a run of rows
-- by one update holding the same state.
CREATE TABLE doc_updates (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id  TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    data     BLOB NOT NULL
) STRICT;
CREATE INDEX doc_updates_by_room ON doc_updates (room_id, seq);

-- The last content hash synced between the document and the container, per file, so that
-- after a restart the side that changed wins.
CREATE TABLE file_sync (
    room_id  TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    path     TEXT NOT NULL,
    hash     TEXT NOT NULL,
    PRIMARY KEY (room_id, path)
) STRICT;

-- Everything that happens in a room, in order, for playback: document updates, terminal
-- output and input, joins and leaves, activity signals.
CREATE TABLE room_events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id  TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    at_ms    INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    actor    TEXT,
    data     BLOB NOT NULL
) STRICT;
CREATE INDEX room_events_by_room ON room_events (room_id, seq);
