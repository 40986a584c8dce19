/* store_migrations.h - the SQL migrations compiled in from src/server/migrations/ by
 * scripts/embed-sql.sh, in version order. */
#ifndef PATCHPOINT_STORE_MIGRATIONS_H
#define PATCHPOINT_STORE_MIGRATIONS_H

struct store_migration {
	int version;	  /* from the file name: 0001_init.sql -> 1 */
	const char *name; /* "0001_init" */
	const char *sql;  /* the file's text */
};

extern const struct store_migration store_migrations[];
extern const unsigned store_migration_count;

#endif
