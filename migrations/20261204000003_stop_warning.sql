-- When the "stops in 5 minutes" warning was sent for the current stop time.
ALTER TABLE rooms ADD COLUMN warned_at INTEGER;
