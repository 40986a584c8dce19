-- 0004_devices: enrollment keys, devices, collection rules with their computed members, client
-- settings with their order and deployments (DESIGN 5.6), and the minimum client version for
-- third-party certificates.

-- Only the SHA-256 of a key is kept; the key is shown once, when it is made.
CREATE TABLE enrollment_keys (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL DEFAULT '',
	key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
	created_at INTEGER NOT NULL,
	expires_at INTEGER, -- NULL: never
	revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
	uses INTEGER NOT NULL DEFAULT 0
);

-- A device is known by the machine id its agent made; re-registering it keeps its id.
CREATE TABLE devices (
	id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 41 AND id GLOB 'GUID:*'),
	machine_id TEXT NOT NULL UNIQUE
		CHECK (length(machine_id) = 32 AND machine_id NOT GLOB '*[^0-9a-f]*'),
	name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
	os TEXT NOT NULL DEFAULT '',
	client_version TEXT NOT NULL,
	tags TEXT NOT NULL DEFAULT '', -- comma-separated
	credential_hash BLOB NOT NULL UNIQUE CHECK (length(credential_hash) = 32),
	enrollment_key_id INTEGER REFERENCES enrollment_keys (id) ON DELETE SET NULL,
	registered_at INTEGER NOT NULL,
	last_policy_at INTEGER
);
CREATE INDEX devices_name ON devices (name COLLATE NOCASE);

-- Every collection id ever made here, so that a deleted collection's id is not given out again
-- (reports and logs keep naming it).
CREATE TABLE collection_ids (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
INSERT INTO collection_ids (id) SELECT id FROM collections;

-- Rules of a collection: kind member (device_id), query (field, value), include / exclude
-- (other_id). All Systems (SMS00001) has no rules: every device is in it.
CREATE TABLE collection_rules (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
	kind TEXT NOT NULL CHECK (kind IN ('member', 'query', 'include', 'exclude')),
	device_id TEXT REFERENCES devices (id) ON DELETE CASCADE,
	field TEXT CHECK (field IS NULL OR field IN ('name', 'os', 'client_version', 'tag')),
	value TEXT,
	other_id TEXT REFERENCES collections (id),
	CHECK ((kind = 'member') = (device_id IS NOT NULL)),
	CHECK ((kind = 'query') = (field IS NOT NULL AND value IS NOT NULL)),
	CHECK ((kind IN ('include', 'exclude')) = (other_id IS NOT NULL))
);
CREATE INDEX collection_rules_collection ON collection_rules (collection_id);
CREATE INDEX collection_rules_other ON collection_rules (other_id);

-- Membership as computed from the rules, for every collection but All Systems; recomputed
-- when a device registers and when a collection's rules change.
CREATE TABLE collection_members (
	collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	PRIMARY KEY (collection_id, device_id)
) WITHOUT ROWID;
CREATE INDEX collection_members_device ON collection_members (device_id);

-- Client settings: Default Client Settings (order 10000, every group) and custom device
-- settings with unique orders 1..n. A group a custom setting configures has all its values
-- in client_setting_values.
CREATE TABLE client_settings (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),
	priority INTEGER NOT NULL UNIQUE CHECK (priority BETWEEN 1 AND 10000),
	is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	CHECK ((is_default = 1) = (priority = 10000))
);
CREATE TABLE client_setting_values (
	setting_id INTEGER NOT NULL REFERENCES client_settings (id) ON DELETE CASCADE,
	key TEXT NOT NULL,
	value INTEGER NOT NULL,
	PRIMARY KEY (setting_id, key)
) WITHOUT ROWID;
CREATE TABLE client_setting_deployments (
	setting_id INTEGER NOT NULL REFERENCES client_settings (id) ON DELETE CASCADE,
	collection_id TEXT NOT NULL REFERENCES collections (id),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (setting_id, collection_id)
) WITHOUT ROWID;

INSERT INTO client_settings (id, name, priority, is_default, created_at, updated_at)
	VALUES (1, 'Default Client Settings', 10000, 1, 0, 0);
INSERT INTO client_setting_values (setting_id, key, value) VALUES
	(1, 'software_updates.enabled', 1),
	(1, 'software_updates.third_party', 0),
	(1, 'software_updates.scan_interval_days', 7),
	(1, 'software_updates.reevaluation_interval_days', 7),
	(1, 'client_policy.polling_interval_minutes', 60);

-- Third-party certificates go only to clients at least this version (ConfigMgr 1806).
ALTER TABLE hierarchy_settings ADD COLUMN min_client_version TEXT NOT NULL
	DEFAULT '5.00.8692.1003';


-- State messages from devices (scan and install results), each once: the agent's id makes a
-- message sent again a duplicate.
CREATE TABLE state_messages (
	id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	time INTEGER NOT NULL,
	topic TEXT NOT NULL CHECK (topic IN ('scan', 'install')),
	update_id TEXT NOT NULL,
	revision INTEGER NOT NULL,
	deployment_id INTEGER,
	state TEXT NOT NULL CHECK (state IN ('required', 'not_required', 'installed', 'failed',
		'pending_reboot')),
	hresult INTEGER,
	detail TEXT NOT NULL DEFAULT '',
	received_at INTEGER NOT NULL
);
CREATE INDEX state_messages_device ON state_messages (device_id, time);

-- The latest state of each update on each device: what compliance reports.
CREATE TABLE device_update_state (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	update_id TEXT NOT NULL,
	revision INTEGER NOT NULL,
	state TEXT NOT NULL,
	hresult INTEGER,
	detail TEXT NOT NULL DEFAULT '',
	time INTEGER NOT NULL,
	PRIMARY KEY (device_id, update_id)
) WITHOUT ROWID;
CREATE INDEX device_update_state_update ON device_update_state (update_id);
