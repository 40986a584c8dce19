-- 0005_policy_generation: one number that moves whenever a write changes what a device's
-- machine policy is made of (docs/internals/device-protocol.md "Policy cache"). patchpointd keeps
-- the answers it has built in memory (src/server/policycache.c) and reads this number on each
-- request: an answer built at another generation is not served. Triggers keep it true for every
-- writer, patchpointd or not (an sqlite3 shell included). Writes that do not change a policy
-- (state messages, last_policy_at, new catalog updates, syncs, enrollment keys) leave it alone.
CREATE TABLE policy_generation (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n INTEGER NOT NULL
);
INSERT INTO policy_generation (id, n) VALUES (1, 1);

CREATE TRIGGER policy_generation_certificates_insert AFTER INSERT ON certificates
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_certificates_update AFTER UPDATE ON certificates
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_certificates_delete AFTER DELETE ON certificates
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_collections_insert AFTER INSERT ON collections
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_collections_update AFTER UPDATE ON collections
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_collections_delete AFTER DELETE ON collections
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_collection_members_insert AFTER INSERT ON collection_members
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_collection_members_update AFTER UPDATE ON collection_members
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_collection_members_delete AFTER DELETE ON collection_members
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_settings_insert AFTER INSERT ON client_settings
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_settings_update AFTER UPDATE ON client_settings
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_settings_delete AFTER DELETE ON client_settings
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_setting_values_insert AFTER INSERT ON client_setting_values
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_setting_values_update AFTER UPDATE ON client_setting_values
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_setting_values_delete AFTER DELETE ON client_setting_values
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_setting_deployments_insert AFTER INSERT ON client_setting_deployments
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_setting_deployments_update AFTER UPDATE ON client_setting_deployments
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_client_setting_deployments_delete AFTER DELETE ON client_setting_deployments
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_deployments_insert AFTER INSERT ON deployments
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_deployments_update AFTER UPDATE ON deployments
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_deployments_delete AFTER DELETE ON deployments
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_updates_update AFTER UPDATE OF state, revision, title ON updates
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_updates_delete AFTER DELETE ON updates
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_hierarchy_settings_update AFTER UPDATE OF min_client_version ON hierarchy_settings
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_devices_update AFTER UPDATE OF id, name, client_version, credential_hash ON devices
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER policy_generation_devices_delete AFTER DELETE ON devices
	BEGIN UPDATE policy_generation SET n = n + 1 WHERE id = 1; END;
