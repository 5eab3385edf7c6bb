-- What a room runs and what it allows; when it started, stops and stopped.
ALTER TABLE rooms ADD COLUMN image TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN candidate_terminal INTEGER NOT NULL DEFAULT 1;
ALTER TABLE rooms ADD COLUMN network INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN time_limit_secs INTEGER NOT NULL DEFAULT 86400;
ALTER TABLE rooms ADD COLUMN started_at INTEGER;            -- unix ms, when it last became ready
ALTER TABLE rooms ADD COLUMN stop_at INTEGER;               -- unix ms, the auto-stop deadline
ALTER TABLE rooms ADD COLUMN stopped_at INTEGER;            -- unix ms
