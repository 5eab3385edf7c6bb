-- The interviewer's private notes on a room: Markdown, kept only here, never sent to a room.
CREATE TABLE room_notes (
    room_id     TEXT PRIMARY KEY NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL              -- unix milliseconds
) STRICT;

-- Links the interviewer's own window opens a room with: not listed, not revoked with a role.
ALTER TABLE links ADD COLUMN window INTEGER NOT NULL DEFAULT 0;
