-- 0003_publishing: published content per update revision, the approval of vendor content
-- certificates, collections (All Systems to begin with) and deployments.

-- A vendor's content-signing certificate (type Third-party Software Updates Content) is added
-- unapproved when publishing first meets it; every other certificate is approved as before.
ALTER TABLE certificates ADD COLUMN approved INTEGER NOT NULL DEFAULT 1 CHECK (approved IN (0, 1));

-- The content of one revision: immutable once written (a revise makes a new revision). sha1 is
-- NULL for a metadata-only publish. input_sha256 identifies the files the administrator gave,
-- so that the same publish repeated is recognised and different content refused.
CREATE TABLE update_content (
	update_id TEXT NOT NULL REFERENCES updates (id) ON DELETE CASCADE,
	revision INTEGER NOT NULL CHECK (revision >= 1),
	sha1 TEXT CHECK (sha1 IS NULL OR (length(sha1) = 40 AND sha1 NOT GLOB '*[^0-9A-F]*')),
	sha256 TEXT CHECK (sha256 IS NULL OR length(sha256) = 64),
	size INTEGER CHECK (size IS NULL OR size > 0),
	input_sha256 TEXT NOT NULL CHECK (length(input_sha256) = 64),
	signer_thumbprint TEXT NOT NULL DEFAULT '',
	files TEXT NOT NULL DEFAULT '', -- the file names inside the CAB, '/'-separated
	published_at INTEGER NOT NULL,
	PRIMARY KEY (update_id, revision)
);
CREATE INDEX update_content_sha1 ON update_content (sha1);

CREATE TABLE collections (
	id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 8),
	name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),
	created_at INTEGER NOT NULL
);
INSERT INTO collections (id, name, created_at) VALUES ('SMS00001', 'All Systems', 0);

CREATE TABLE deployments (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	update_id TEXT NOT NULL REFERENCES updates (id) ON DELETE CASCADE,
	collection_id TEXT NOT NULL REFERENCES collections (id),
	available_at INTEGER NOT NULL,
	deadline_at INTEGER CHECK (deadline_at IS NULL OR deadline_at >= available_at),
	created_at INTEGER NOT NULL,
	UNIQUE (update_id, collection_id)
);
