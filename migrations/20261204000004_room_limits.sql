-- Per-room resource limits; NULL means the default (1 GiB, 1 CPU, 512 processes).
ALTER TABLE rooms ADD COLUMN memory_mb INTEGER;
ALTER TABLE rooms ADD COLUMN cpus REAL;
ALTER TABLE rooms ADD COLUMN pids INTEGER;
