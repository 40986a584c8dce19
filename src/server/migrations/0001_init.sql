-- 0001_init: sites, the hierarchy's third-party update settings, SUPs, Certificates, syncs and
-- admin tokens. Times are Unix seconds (UTC). The rules that matter are enforced here as well as
-- in store.c, so that two processes on the same file cannot break them.

CREATE TABLE sites (
	code TEXT PRIMARY KEY NOT NULL
		CHECK (length(code) = 3 AND code NOT GLOB '*[^A-Z0-9]*'),
	name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
	parent_code TEXT REFERENCES sites (code) CHECK (parent_code IS NULL OR parent_code <> code),
	created_at INTEGER NOT NULL
);
-- At most one top-level site: every parentless row indexes the same key.
CREATE UNIQUE INDEX sites_one_top_level ON sites (ifnull(parent_code, '')) WHERE parent_code IS NULL;
CREATE INDEX sites_parent ON sites (parent_code);

-- The Third-Party Updates settings exist once per hierarchy: one row, whichever site is on top.
CREATE TABLE hierarchy_settings (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	enable_third_party_updates INTEGER NOT NULL CHECK (enable_third_party_updates IN (0, 1)),
	certificate_mode TEXT NOT NULL CHECK (certificate_mode IN ('managed', 'manual')),
	updated_at INTEGER NOT NULL
);
INSERT INTO hierarchy_settings (id, enable_third_party_updates, certificate_mode, updated_at)
	VALUES (1, 0, 'managed', 0);

CREATE TABLE sups (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	site_code TEXT NOT NULL REFERENCES sites (code),
	url TEXT NOT NULL CHECK (url LIKE 'http://%' OR url LIKE 'https://%'),
	location TEXT NOT NULL CHECK (location IN ('local', 'remote')),
	sync_source INTEGER NOT NULL CHECK (sync_source IN (0, 1)),
	created_at INTEGER NOT NULL,
	UNIQUE (site_code, url)
);
CREATE UNIQUE INDEX sups_one_sync_source ON sups (site_code) WHERE sync_source = 1;

-- Administration > Security > Certificates.
CREATE TABLE certificates (
	thumbprint TEXT PRIMARY KEY NOT NULL
		CHECK (length(thumbprint) = 40 AND thumbprint NOT GLOB '*[^0-9A-F]*'),
	type TEXT NOT NULL CHECK (type IN ('Third-party WSUS Signing',
		'Third-party Software Updates Catalog', 'Third-party Software Updates Content')),
	der BLOB NOT NULL CHECK (length(der) > 0),
	subject TEXT NOT NULL,
	not_before INTEGER NOT NULL,
	not_after INTEGER NOT NULL,
	blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
	added_at INTEGER NOT NULL
);

CREATE TABLE syncs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
	step TEXT NOT NULL DEFAULT '',
	started_at INTEGER NOT NULL,
	finished_at INTEGER,
	error TEXT NOT NULL DEFAULT ''
);
-- One sync at a time, across every process that opens the database.
CREATE UNIQUE INDEX syncs_one_running ON syncs (state) WHERE state = 'running';

-- Only the SHA-256 of each admin token.
CREATE TABLE admin_tokens (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
	created_at INTEGER NOT NULL
);
