-- 0002_catalog: third-party update catalogs and the updates imported from them or created by an
-- administrator. Each update keeps its SDP as patchpoint exports it (sdp, with its SHA-256), so
-- that a re-import of the same package is recognised as unchanged and an export gives it back.

CREATE TABLE catalogs (
	name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
	-- The publisher option "allow unsigned content" of this catalog's updates.
	allow_unsigned_content INTEGER NOT NULL DEFAULT 0 CHECK (allow_unsigned_content IN (0, 1)),
	added_at INTEGER NOT NULL
);

CREATE TABLE updates (
	id TEXT PRIMARY KEY NOT NULL
		CHECK (length(id) = 36 AND id NOT GLOB '*[^0-9a-f-]*'),
	revision INTEGER NOT NULL CHECK (revision >= 1),
	catalog TEXT REFERENCES catalogs (name), -- NULL for an administrator's own update
	vendor TEXT NOT NULL CHECK (length(vendor) > 0),
	product TEXT NOT NULL CHECK (length(product) > 0),
	title TEXT NOT NULL CHECK (length(title) > 0),
	classification TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	kb TEXT NOT NULL DEFAULT '',
	creation_date TEXT NOT NULL,
	sdp BLOB NOT NULL CHECK (length(sdp) > 0),
	sdp_sha256 TEXT NOT NULL CHECK (length(sdp_sha256) = 64),
	state TEXT NOT NULL DEFAULT 'metadata'
		CHECK (state IN ('metadata', 'published', 'expired')),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX updates_catalog ON updates (catalog);
