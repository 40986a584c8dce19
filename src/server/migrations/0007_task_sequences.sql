-- 0007_task_sequences: packages (named folders of files with a version, each file kept in the
-- content store by its SHA-1), task sequences (ordered steps), their deployments to collections
-- and the runs devices report (docs/internals/task-sequences.md). Nothing here is part of a
-- machine policy: the agent asks for its task sequences on its own device endpoints, so no
-- trigger moves the policy generation (0005).

-- Package and task sequence ids share one sequence, as ConfigMgr's PackageIDs do ("PP100010");
-- an id once given is never given again.
CREATE TABLE package_ids (id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 8)) WITHOUT ROWID;

CREATE TABLE packages (
	id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 8),
	name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),
	version TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
	-- One more each time the files change (ConfigMgr's source version): what devices compare.
	source_version INTEGER NOT NULL CHECK (source_version >= 1),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- The files of the current source version; a new version replaces them all.
CREATE TABLE package_files (
	package_id TEXT NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
	path TEXT NOT NULL CHECK (length(path) BETWEEN 1 AND 255),
	sha1 TEXT NOT NULL CHECK (length(sha1) = 40 AND sha1 NOT GLOB '*[^0-9A-F]*'),
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
	size INTEGER NOT NULL CHECK (size >= 0),
	PRIMARY KEY (package_id, path)
) WITHOUT ROWID;
CREATE INDEX package_files_sha1 ON package_files (sha1);

CREATE TABLE task_sequences (
	id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 8),
	name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),
	-- One more for each change of the steps; runs record the revision they ran.
	revision INTEGER NOT NULL CHECK (revision >= 1),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- A package a step uses cannot be deleted (no cascade): the step would lose its files.
CREATE TABLE ts_steps (
	ts_id TEXT NOT NULL REFERENCES task_sequences (id) ON DELETE CASCADE,
	position INTEGER NOT NULL CHECK (position BETWEEN 1 AND 100),
	name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
	type TEXT NOT NULL CHECK (type IN ('run-command-line', 'install-software-updates',
		'set-policy', 'restart')),
	continue_on_error INTEGER NOT NULL DEFAULT 0 CHECK (continue_on_error IN (0, 1)),
	package_id TEXT REFERENCES packages (id),
	command_line TEXT,
	timeout INTEGER,
	policy_name TEXT,
	policy_value INTEGER,
	CHECK ((type = 'run-command-line') = (command_line IS NOT NULL AND timeout IS NOT NULL)),
	CHECK (type = 'run-command-line' OR package_id IS NULL),
	CHECK ((type = 'set-policy') = (policy_name IS NOT NULL AND policy_value IS NOT NULL)),
	PRIMARY KEY (ts_id, position)
) WITHOUT ROWID;
CREATE INDEX ts_steps_package ON ts_steps (package_id);

CREATE TABLE ts_deployments (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	ts_id TEXT NOT NULL REFERENCES task_sequences (id),
	collection_id TEXT NOT NULL REFERENCES collections (id),
	available_at INTEGER NOT NULL CHECK (available_at >= 0),
	created_at INTEGER NOT NULL,
	UNIQUE (ts_id, collection_id)
);
CREATE INDEX ts_deployments_collection ON ts_deployments (collection_id);

-- A collection that a task sequence is deployed to is not deleted from under the deployment
-- (store_collection_delete names other referrers itself; this one is ours).
CREATE TRIGGER ts_deployments_keep_collection BEFORE DELETE ON collections
	WHEN EXISTS (SELECT 1 FROM ts_deployments WHERE collection_id = OLD.id)
	BEGIN SELECT RAISE(ABORT, 'a task sequence is deployed to the collection; undeploy it first'); END;

-- A run as its device last reported it: the agent sends the whole run each time with a sequence
-- number (seq) one higher, so a report sent twice, or overtaken by a later one, changes nothing.
-- deployment_id is kept as reported (no foreign key): results outlive an undeploy.
CREATE TABLE ts_runs (
	run_id TEXT PRIMARY KEY NOT NULL CHECK (length(run_id) = 36),
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	ts_id TEXT NOT NULL REFERENCES task_sequences (id) ON DELETE CASCADE,
	deployment_id INTEGER NOT NULL,
	revision INTEGER NOT NULL CHECK (revision >= 1),
	seq INTEGER NOT NULL CHECK (seq >= 1),
	state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'interrupted')),
	hresult INTEGER,
	started_at INTEGER NOT NULL,
	finished_at INTEGER,
	received_at INTEGER NOT NULL
);
CREATE INDEX ts_runs_ts ON ts_runs (ts_id, device_id, started_at);

CREATE TABLE ts_run_steps (
	run_id TEXT NOT NULL REFERENCES ts_runs (run_id) ON DELETE CASCADE,
	position INTEGER NOT NULL CHECK (position BETWEEN 1 AND 100),
	name TEXT NOT NULL,
	type TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'skipped',
		'interrupted')),
	exit_code INTEGER,
	hresult INTEGER,
	started_at INTEGER,
	finished_at INTEGER,
	detail TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, position)
) WITHOUT ROWID;
