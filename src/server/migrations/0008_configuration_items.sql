-- 0008_configuration_items: configuration items (certificate present, script), configuration
-- baselines, their deployments to collections and what devices report when they evaluate them
-- (DESIGN 5.8, docs/internals/configuration-items.md). None of it is part of a machine policy:
-- devices fetch their baselines from GET /api/v1/device/baselines, so the policy generation
-- (0005) is left alone.

-- An item is one rule. "certificate": the certificate (DER, its thumbprint and subject) and the
-- stores it must be in, as bits 1 << certstore id (Root 2, TrustedPublisher 8). "script": a
-- discovery script, an optional remediation script, the data type, the operator and the
-- expected value (canonical text, src/lib/configitem.c), and the scripts' time limit.
CREATE TABLE configuration_items (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),
	kind TEXT NOT NULL CHECK (kind IN ('certificate', 'script')),
	revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
	thumbprint TEXT CHECK (thumbprint IS NULL OR
		(length(thumbprint) = 40 AND thumbprint NOT GLOB '*[^0-9A-F]*')),
	subject TEXT,
	der BLOB CHECK (der IS NULL OR length(der) BETWEEN 1 AND 65536),
	stores INTEGER CHECK (stores IS NULL OR (stores > 0 AND (stores & ~10) = 0)),
	discovery TEXT CHECK (discovery IS NULL OR length(CAST(discovery AS BLOB)) BETWEEN 1 AND 65536),
	remediation TEXT CHECK (remediation IS NULL OR
		length(CAST(remediation AS BLOB)) BETWEEN 1 AND 65536),
	data_type TEXT CHECK (data_type IS NULL OR data_type IN ('boolean', 'string', 'integer')),
	operator TEXT CHECK (operator IS NULL OR operator = 'equals'),
	expected TEXT,
	timeout_seconds INTEGER CHECK (timeout_seconds IS NULL OR timeout_seconds BETWEEN 1 AND 3600),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	CHECK ((kind = 'certificate') =
		(thumbprint IS NOT NULL AND der IS NOT NULL AND stores IS NOT NULL)),
	CHECK ((kind = 'script') = (discovery IS NOT NULL AND data_type IS NOT NULL AND
		operator IS NOT NULL AND expected IS NOT NULL AND timeout_seconds IS NOT NULL))
);

-- A baseline is an ordered list of items; its revision moves when the list changes.
CREATE TABLE baselines (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),
	revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
-- An item in a baseline cannot be deleted (no cascade from configuration_items).
CREATE TABLE baseline_items (
	baseline_id INTEGER NOT NULL REFERENCES baselines (id) ON DELETE CASCADE,
	item_id INTEGER NOT NULL REFERENCES configuration_items (id),
	position INTEGER NOT NULL,
	PRIMARY KEY (baseline_id, item_id)
) WITHOUT ROWID;
CREATE INDEX baseline_items_item ON baseline_items (item_id);

-- "Deploy Configuration Baselines": to one collection, with "Remediate noncompliant rules when
-- supported" and the evaluation schedule. A deployed baseline cannot be deleted, nor the
-- collection it is deployed to.
CREATE TABLE baseline_deployments (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	baseline_id INTEGER NOT NULL REFERENCES baselines (id),
	collection_id TEXT NOT NULL REFERENCES collections (id),
	remediate INTEGER NOT NULL CHECK (remediate IN (0, 1)),
	schedule_hours INTEGER NOT NULL CHECK (schedule_hours BETWEEN 1 AND 8760),
	created_at INTEGER NOT NULL,
	UNIQUE (baseline_id, collection_id)
);
CREATE INDEX baseline_deployments_collection ON baseline_deployments (collection_id);

-- One evaluation of one baseline on one device, each once: the agent's id makes a report sent
-- again a duplicate. Its results, one per item evaluated.
CREATE TABLE baseline_reports (
	id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	baseline_id INTEGER NOT NULL REFERENCES baselines (id) ON DELETE CASCADE,
	baseline_revision INTEGER NOT NULL CHECK (baseline_revision >= 1),
	time INTEGER NOT NULL,
	received_at INTEGER NOT NULL
);
CREATE INDEX baseline_reports_device ON baseline_reports (device_id, baseline_id, time);
CREATE INDEX baseline_reports_baseline ON baseline_reports (baseline_id);
CREATE TABLE baseline_report_items (
	report_id TEXT NOT NULL REFERENCES baseline_reports (id) ON DELETE CASCADE,
	item_id INTEGER NOT NULL,
	item_revision INTEGER NOT NULL CHECK (item_revision >= 1),
	state TEXT NOT NULL CHECK (state IN ('compliant', 'non_compliant', 'remediated', 'error')),
	hresult INTEGER,
	exit_code INTEGER,
	detail TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (report_id, item_id)
) WITHOUT ROWID;

-- The latest report (by time) of each baseline on each device: what compliance shows.
CREATE TABLE device_baseline_state (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	baseline_id INTEGER NOT NULL REFERENCES baselines (id) ON DELETE CASCADE,
	report_id TEXT NOT NULL REFERENCES baseline_reports (id) ON DELETE CASCADE,
	time INTEGER NOT NULL,
	PRIMARY KEY (device_id, baseline_id)
) WITHOUT ROWID;
CREATE INDEX device_baseline_state_baseline ON device_baseline_state (baseline_id);
