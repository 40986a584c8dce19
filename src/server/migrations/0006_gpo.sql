-- 0006_gpo: group policy objects (DESIGN 5.8, docs/internals/gpo.md): each GPO has a GUID id
-- in braces, a unique name and a GPT.INI version (user << 16 | machine); what its
-- Machine/Registry.pol holds (certificates for the Root and TrustedPublisher policy stores,
-- policy values) and the collections it is linked to, with a link order per collection
-- (1 = highest precedence, applied last). Deleting a GPO deletes its contents and links;
-- deleting a collection deletes the links on it (as deleting an OU deletes its gPLink).
-- Numbered 0006 so that 0005 (machine policy) can come before it; nothing here depends on it.

CREATE TABLE gpos (
	id TEXT PRIMARY KEY NOT NULL
		CHECK (length(id) = 38 AND substr(id, 1, 1) = '{' AND substr(id, 38, 1) = '}'
		       AND substr(id, 10, 1) = '-' AND substr(id, 15, 1) = '-'
		       AND substr(id, 20, 1) = '-' AND substr(id, 25, 1) = '-'
		       AND substr(id, 2, 36) NOT GLOB '*[^0-9A-F-]*'),
	name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 255),
	version INTEGER NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE gpo_certificates (
	gpo_id TEXT NOT NULL REFERENCES gpos (id) ON DELETE CASCADE,
	store TEXT NOT NULL CHECK (store IN ('Root', 'TrustedPublisher')),
	thumbprint TEXT NOT NULL
		CHECK (length(thumbprint) = 40 AND thumbprint NOT GLOB '*[^0-9A-F]*'),
	der BLOB NOT NULL CHECK (length(der) > 0),
	subject TEXT NOT NULL,
	not_after INTEGER NOT NULL,
	added_at INTEGER NOT NULL,
	PRIMARY KEY (gpo_id, store, thumbprint)
) WITHOUT ROWID;

CREATE TABLE gpo_values (
	gpo_id TEXT NOT NULL REFERENCES gpos (id) ON DELETE CASCADE,
	name TEXT NOT NULL CHECK (name IN ('AcceptTrustedPublisherCerts')),
	value INTEGER NOT NULL CHECK (value IN (0, 1)),
	PRIMARY KEY (gpo_id, name)
) WITHOUT ROWID;

-- link_order is 1..n within a collection, kept dense by store_gpo.c.
CREATE TABLE gpo_links (
	gpo_id TEXT NOT NULL REFERENCES gpos (id) ON DELETE CASCADE,
	collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
	link_order INTEGER NOT NULL CHECK (link_order >= 1),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (gpo_id, collection_id)
) WITHOUT ROWID;
CREATE INDEX gpo_links_collection ON gpo_links (collection_id, link_order);
