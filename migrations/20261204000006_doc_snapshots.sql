-- The document's updates are read from the event log (kind 'doc'), which every update is
-- written to once; a snapshot holds the compacted state up to an event, so loading reads the
-- snapshot and the updates after it.
CREATE TABLE doc_snapshots (
    room_id   TEXT PRIMARY KEY NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    data      BLOB NOT NULL,
    upto_seq  INTEGER NOT NULL
) STRICT;

DROP TABLE doc_updates;
