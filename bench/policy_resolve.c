/* policy_resolve.c - bench/policy part (a): resultant client settings for a large site.
 *
 * Makes a throwaway SQLite site database through the store API (a site, collections with query
 * and include/exclude rules, custom client settings deployed to them, devices registered with
 * store_device_register, which computes each device's memberships), loads one policy table and
 * times policy_device_bits + policy_resolve for every device, their collections fetched with
 * store_device_collections beforehand (a block of devices at a time, so the benchmark's own
 * arrays stay small). Also times what surrounds that on the server: registration, the
 * collections query and a whole machine policy document for a sample of devices.
 *
 * Prints a report, then one line "figures: KEY=VALUE ..." for bench/policy.sh. Exit 0 when the
 * run completed (a missed target is the script's business), 1 on a failure, 2 on a usage error.
 *
 * Usage: policy_resolve [--devices N] [--collections N] [--settings N] [--rounds N]
 *                       [--single N] [--batch N] [--documents N] DIR */
#include "clientsettings.h"
#include "error.h"
#include "hresult.h"
#include "membership.h"
#include "policy.h"
#include "store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK	   1000 /* devices whose collections are held at once */
#define ROUNDS_MAX 101
#define ENROLLMENT_KEY                                                                             \
	"6265-6e63-6820-656e-726f-6c6c-6d65-6e74-206b-6579" /* any text of >= 16 bytes */

struct config {
	size_t devices, collections, settings, rounds, single, batch, documents;
	const char *dir;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmHWM or VmRSS of this process in kB (0 when /proc is not there). */
static long proc_kb(const char *field)
{
	char line[256];
	long kb = 0;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}

static uint64_t mix(uint64_t x) /* splitmix64: the device's attributes from its number */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t tag_count(const struct config *c)
{
	return c->collections > 40 ? c->collections - 30 : c->collections;
}

/* Device i: name dev-NNNNNN, one of four OSes, one of three client versions, three tags. */
static void make_device(const struct config *c, size_t i, struct store_device *d, char *cred,
			size_t cred_size)
{
	static const char *const oses[] = {"Windows 10 Enterprise", "Windows 11 Enterprise",
					   "Windows Server 2019 Standard",
					   "Windows Server 2022 Datacenter"};
	static const char *const versions[] = {"5.00.9128.1000", "5.00.9040.1044",
					       "5.00.8692.1003"};
	uint64_t r = mix(i);
	size_t tags = tag_count(c), a, b, e;

	memset(d, 0, sizeof(*d));
	(void)snprintf(d->machine_id, sizeof(d->machine_id), "%016llx%016llx",
		       (unsigned long long)mix(r), (unsigned long long)i);
	(void)snprintf(d->name, sizeof(d->name), "dev-%06zu", i);
	(void)snprintf(d->os, sizeof(d->os), "%s", oses[r % 4]);
	(void)snprintf(d->client_version, sizeof(d->client_version), "%s", versions[(r >> 8) % 3]);
	a = (size_t)(r >> 16) % tags;
	b = (size_t)(r >> 28) % tags;
	e = (size_t)(r >> 40) % tags;
	if (b == a)
		b = (b + 1) % tags;
	while (e == a || e == b)
		e = (e + 1) % tags;
	(void)snprintf(d->tags, sizeof(d->tags), "t%03zu,t%03zu,t%03zu", a, b, e);
	(void)snprintf(cred, cred_size, "%016llx%016llx%016llx%016llx",
		       (unsigned long long)mix(r + 1), (unsigned long long)mix(r + 2),
		       (unsigned long long)mix(r + 3), (unsigned long long)i);
}

/* Collection k: tag rules first, then name globs (1 % each), OS, client version and two that
 * include and exclude others. */
static int make_collections(struct store *s, const struct config *c, char (*ids)[9],
			    struct pp_error *err)
{
	static const char *const os_rules[] = {"os=Windows 10*",
					       "os=Windows 11*",
					       "os=Windows Server*",
					       "os=*2019*",
					       "os=*2022*",
					       "os=Windows 11 Enterprise",
					       "client_version=5.00.9128.1000",
					       "client_version=5.00.9040.1044"};
	size_t tags = tag_count(c);

	for (size_t k = 0; k < c->collections; k++) {
		struct store_collection_rule rules[2];
		struct store_collection out;
		char name[64], query[64];
		size_t n = 1;

		memset(rules, 0, sizeof(rules));
		if (k < tags)
			(void)snprintf(query, sizeof(query), "tag=t%03zu", k);
		else if (k < tags + 20)
			(void)snprintf(query, sizeof(query), "name=dev-*%02zu", k - tags);
		else if (k < tags + 28)
			(void)snprintf(query, sizeof(query), "%s", os_rules[k - tags - 20]);
		else
			query[0] = '\0';
		if (query[0] != '\0') {
			if (membership_parse_query(query, &rules[0].rule, err) != 0)
				return -1;
		} else if (k == tags + 28) { /* servers, less those tagged t000 */
			rules[0].rule.kind = MEMBERSHIP_INCLUDE;
			memcpy(rules[0].rule.other, ids[tags + 22], 9);
			rules[1].rule.kind = MEMBERSHIP_EXCLUDE;
			memcpy(rules[1].rule.other, ids[0], 9);
			n = 2;
		} else { /* t001 or t002 */
			rules[0].rule.kind = MEMBERSHIP_INCLUDE;
			memcpy(rules[0].rule.other, ids[1], 9);
			rules[1].rule.kind = MEMBERSHIP_INCLUDE;
			memcpy(rules[1].rule.other, ids[2], 9);
			n = 2;
		}
		(void)snprintf(name, sizeof(name), "Bench collection %03zu", k);
		if (store_collection_create(s, name, rules, n, &out, err) != 0)
			return -1;
		memcpy(ids[k], out.id, 9);
	}
	return 0;
}

/* Setting j configures Software Updates (j % 3 == 0), Client Policy (1) or both (2), and is
 * deployed to collections j*d .. j*d+d-1 (d = collections / settings, rounded up); the last one
 * to All Systems too. */
static int make_settings(struct store *s, const struct config *c, char (*ids)[9],
			 size_t *deployments, struct pp_error *err)
{
	size_t per = (c->collections + c->settings - 1) / c->settings;

	*deployments = 0;
	for (size_t j = 0; j < c->settings; j++) {
		struct clientsettings_values v;
		struct store_client_setting out;
		char name[64], text[32];

		memset(&v, 0, sizeof(v));
		if (j % 3 != 1) {
			(void)snprintf(text, sizeof(text), "%zu", 1 + j % 7);
			if (clientsettings_set(&v, "software_updates.third_party",
					       j % 2 ? "yes" : "no", err) != 0 ||
			    clientsettings_set(&v, "software_updates.scan_interval_days", text,
					       err) != 0)
				return -1;
		}
		if (j % 3 != 0) {
			(void)snprintf(text, sizeof(text), "%zu", 15 + j);
			if (clientsettings_set(&v, "client_policy.polling_interval_minutes", text,
					       err) != 0)
				return -1;
		}
		(void)snprintf(name, sizeof(name), "Bench setting %02zu", j);
		if (store_client_setting_create(s, name, &v, &out, err) != 0)
			return -1;
		for (size_t k = j * per; k < (j + 1) * per && k < c->collections; k++) {
			if (store_client_setting_deploy(s, name, ids[k], err) != 0)
				return -1;
			++*deployments;
		}
		if (j + 1 == c->settings) {
			if (store_client_setting_deploy(s, name, STORE_ALL_SYSTEMS, err) != 0)
				return -1;
			++*deployments;
		}
	}
	return 0;
}

struct reg_batch {
	const struct config *c;
	size_t from, to;
	char (*dev_ids)[STORE_DEVICE_ID_LEN + 1];
};

static int register_one(struct store *s, const struct config *c, size_t i,
			char (*dev_ids)[STORE_DEVICE_ID_LEN + 1], struct pp_error *err)
{
	struct store_device d;
	char cred[65];
	bool is_new = false;

	make_device(c, i, &d, cred, sizeof(cred));
	if (store_device_register(s, ENROLLMENT_KEY, cred, &d, &is_new, err) != 0)
		return -1;
	if (!is_new) {
		pp_error_set(err, HR_E_FAIL, "device %zu was not new", i);
		return -1;
	}
	memcpy(dev_ids[i], d.id, sizeof(dev_ids[i]));
	return 0;
}

static int register_batch_tx(struct store *s, void *p, struct pp_error *err)
{
	struct reg_batch *b = p;

	for (size_t i = b->from; i < b->to; i++)
		if (register_one(s, b->c, i, b->dev_ids, err) != 0)
			return -1;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int parse_size(const char *text, size_t min, size_t max, size_t *out)
{
	char *end = NULL;
	unsigned long long v = strtoull(text, &end, 10);

	if (end == text || *end != '\0' || v < min || v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	static const struct {
		const char *flag;
		size_t offset, min, max;
	} opts[] = {
	    {"--devices", offsetof(struct config, devices), 1, 10000000},
	    {"--collections", offsetof(struct config, collections), 3, 5000},
	    {"--settings", offsetof(struct config, settings), 1, 1000},
	    {"--rounds", offsetof(struct config, rounds), 1, ROUNDS_MAX},
	    {"--single", offsetof(struct config, single), 0, 10000000},
	    {"--batch", offsetof(struct config, batch), 1, 1000000},
	    {"--documents", offsetof(struct config, documents), 0, 10000000},
	};
	int i;

	*c = (struct config){100000, 200, 50, 5, 1000, 1000, 1000, NULL};
	for (i = 1; i < argc; i++) {
		size_t k;

		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (strcmp(argv[i], opts[k].flag) == 0)
				break;
		if (k == sizeof(opts) / sizeof(opts[0]))
			break;
		if (i + 1 >= argc || parse_size(argv[i + 1], opts[k].min, opts[k].max,
						(size_t *)((char *)c + opts[k].offset)) != 0) {
			fprintf(stderr, "policy_resolve: %s takes a number from %zu to %zu\n",
				argv[i], opts[k].min, opts[k].max);
			return -1;
		}
		i++;
	}
	if (i != argc - 1 || argv[i][0] == '-') {
		fprintf(stderr, "usage: policy_resolve [--devices N] [--collections N] [--settings "
				"N] [--rounds N] [--single N] [--batch N] [--documents N] DIR\n");
		return -1;
	}
	c->dir = argv[i];
	if (c->single > c->devices)
		c->single = c->devices;
	if (c->documents > c->devices)
		c->documents = c->devices;
	return 0;
}

int main(int argc, char **argv)
{
	struct config c;
	struct pp_error err;
	struct store *s = NULL;
	struct store_enrollment_key key;
	struct policy_table t;
	char path[4096];
	char(*coll_ids)[9] = NULL;
	char(*dev_ids)[STORE_DEVICE_ID_LEN + 1] = NULL;
	struct store_collection **block = NULL;
	size_t *block_n = NULL;
	uint64_t *bits = NULL;
	size_t *deployed = NULL;
	double *round_s = NULL;
	size_t deployments = 0, memberships = 0, custom_wins = 0, third_party_on = 0;
	double t0, t_setup, t_single = 0, t_batched = 0, t_table, t_colls = 0, t_docs = 0;
	long hwm_setup, hwm_register, hwm_end;
	size_t doc_bytes = 0;
	int rc = 1;

	memset(&t, 0, sizeof(t));
	pp_error_clear(&err);
	if (parse_args(argc, argv, &c) != 0 || c.devices == 0 || c.rounds == 0)
		return 2;
	if ((size_t)snprintf(path, sizeof(path), "%s/site.db", c.dir) >= sizeof(path)) {
		fprintf(stderr, "policy_resolve: the directory name is too long\n");
		return 2;
	}
	coll_ids = calloc(c.collections, sizeof(*coll_ids));
	dev_ids = calloc(c.devices, sizeof(*dev_ids));
	block = calloc(BLOCK, sizeof(struct store_collection *));
	block_n = calloc(BLOCK, sizeof(*block_n));
	round_s = calloc(c.rounds, sizeof(*round_s));
	if (coll_ids == NULL || dev_ids == NULL || block == NULL || block_n == NULL ||
	    round_s == NULL) {
		fprintf(stderr, "policy_resolve: out of memory\n");
		goto out;
	}

	printf("policy_resolve: %zu devices, %zu collections, %zu custom client settings, "
	       "database %s\n",
	       c.devices, c.collections, c.settings, path);
	t0 = now_s();
	s = store_open_sqlite(path, &err);
	if (s == NULL || store_site_add(s, "PP1", "Bench site", NULL, &err) != 0 ||
	    store_enrollment_key_add(s, "bench", ENROLLMENT_KEY, 0, &key, &err) != 0 ||
	    make_collections(s, &c, coll_ids, &err) != 0 ||
	    make_settings(s, &c, coll_ids, &deployments, &err) != 0)
		goto fail;
	t_setup = now_s() - t0;
	hwm_setup = proc_kb("VmHWM");
	printf("set-up: site, %zu collections (%zu tag queries, name globs, OS and version "
	       "queries, include/exclude), %zu client settings, %zu deployments: %.2f s\n",
	       c.collections, tag_count(&c), c.settings, deployments, t_setup);

	/* Registration: the first ones one transaction each, as patchpointd does (synchronous =
	 * FULL: a WAL fsync per registration); the rest batched in outer transactions, whose
	 * nested registrations become savepoints, to keep the set-up short. */
	t0 = now_s();
	for (size_t i = 0; i < c.single; i++)
		if (register_one(s, &c, i, dev_ids, &err) != 0)
			goto fail;
	t_single = now_s() - t0;
	t0 = now_s();
	for (size_t i = c.single; i < c.devices; i += c.batch) {
		struct reg_batch b = {&c, i, i + c.batch < c.devices ? i + c.batch : c.devices,
				      dev_ids};

		if (store_transaction(s, register_batch_tx, &b, &err) != 0)
			goto fail;
	}
	t_batched = now_s() - t0;
	hwm_register = proc_kb("VmHWM");
	printf("register: %zu devices with store_device_register (memberships computed for each "
	       "against %zu collections)\n",
	       c.devices, c.collections);
	if (c.single > 0)
		printf("  first %zu, one transaction each (as patchpointd): %.2f s, %.0f us a "
		       "device, %.0f devices/s\n",
		       c.single, t_single, 1e6 * t_single / (double)c.single,
		       (double)c.single / t_single);
	if (c.devices > c.single)
		printf("  next %zu, in transactions of %zu: %.2f s, %.0f us a device, %.0f "
		       "devices/s\n",
		       c.devices - c.single, c.batch, t_batched,
		       1e6 * t_batched / (double)(c.devices - c.single),
		       (double)(c.devices - c.single) / t_batched);

	t0 = now_s();
	if (policy_table_load(s, &t, &err) != 0)
		goto fail;
	t_table = now_s() - t0;
	printf("policy_table_load: %zu client settings, %zu collections, %zu words a bitset: "
	       "%.3f ms\n",
	       t.setting_count, t.collection_count, t.words, 1e3 * t_table);
	bits = calloc(t.words, sizeof(*bits));
	deployed = calloc(t.setting_count + 1, sizeof(*deployed));
	if (bits == NULL || deployed == NULL) {
		pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}

	/* A block of devices at a time: their collections from the store (timed apart), then
	 * every round of bits + resolve over the block (timed). */
	for (size_t from = 0; from < c.devices; from += BLOCK) {
		size_t n = c.devices - from < BLOCK ? c.devices - from : BLOCK;
		double b0 = now_s();

		for (size_t k = 0; k < n; k++) {
			free(block[k]);
			block[k] = NULL;
			if (store_device_collections(s, dev_ids[from + k], &block[k], &block_n[k],
						     &err) != 0)
				goto fail;
			memberships += block_n[k];
		}
		t_colls += now_s() - b0;
		for (size_t r = 0; r < c.rounds; r++) {
			double r0 = now_s();

			for (size_t k = 0; k < n; k++) {
				struct clientsettings_resultant res;
				size_t nd = 0;

				policy_device_bits(&t, block[k], block_n[k], bits);
				policy_resolve(&t, bits, &res, deployed, &nd);
				if (r == 0) {
					custom_wins += res.source_order[CS_SU_THIRD_PARTY] !=
						       CLIENTSETTINGS_DEFAULT_ORDER;
					third_party_on += res.value[CS_SU_THIRD_PARTY] != 0;
				}
			}
			round_s[r] += now_s() - r0;
		}
	}
	{
		double sorted[ROUNDS_MAX], med;

		memcpy(sorted, round_s, c.rounds * sizeof(*sorted));
		qsort(sorted, c.rounds, sizeof(*sorted), cmp_double);
		med = sorted[c.rounds / 2];
		printf("store_device_collections: %.1f us a device (%.2f collections each, All "
		       "Systems included)\n",
		       1e6 * t_colls / (double)c.devices, (double)memberships / (double)c.devices);
		printf("policy_device_bits + policy_resolve: %zu rounds over %zu devices: median "
		       "%.3f s a round, %.3f us a device (rounds %.3f-%.3f us)\n",
		       c.rounds, c.devices, med, 1e6 * med / (double)c.devices,
		       1e6 * sorted[0] / (double)c.devices,
		       1e6 * sorted[c.rounds - 1] / (double)c.devices);
		printf("  check: third party enabled for %zu devices, set by a custom setting for "
		       "%zu\n",
		       third_party_on, custom_wins);
		round_s[0] = med;
	}

	/* The server's whole answer for a sample: policy_machine_document, which loads its own
	 * policy table, the device's collections, certificates and deployments. */
	t0 = now_s();
	for (size_t i = 0; i < c.documents; i++) {
		size_t at = c.devices > 0 ? (i * 7919) % c.devices : 0;
		struct store_device d;
		int64_t valid_until;
		json_t *doc;
		char *text;

		if (store_device_get(s, dev_ids[at], &d, &err) != 0)
			goto fail;
		doc = policy_machine_document(s, &d, &valid_until, &err);
		if (doc == NULL)
			goto fail;
		text = json_dumps(doc, JSON_COMPACT);
		doc_bytes = text != NULL ? strlen(text) : 0;
		free(text);
		json_decref(doc);
	}
	t_docs = now_s() - t0;
	if (c.documents > 0)
		printf("policy_machine_document (store_device_get first): %zu devices, %.1f us a "
		       "device (%zu bytes of JSON)\n",
		       c.documents, 1e6 * t_docs / (double)c.documents, doc_bytes);

	hwm_end = proc_kb("VmHWM");
	printf("peak RSS (VmHWM): %.1f MB after set-up, %.1f MB after registering, %.1f MB at "
	       "the end (VmRSS %.1f MB); the benchmark holds %zu device ids (%.1f MB)\n",
	       hwm_setup / 1024.0, hwm_register / 1024.0, hwm_end / 1024.0,
	       proc_kb("VmRSS") / 1024.0, c.devices,
	       (double)(c.devices * sizeof(*dev_ids)) / 1048576.0);
	printf("figures: devices=%zu resolve_us=%.3f collections_us=%.1f document_us=%.1f "
	       "register_single_us=%.0f register_batched_us=%.0f register_s=%.2f table_ms=%.3f "
	       "hwm_kb=%ld\n",
	       c.devices, 1e6 * round_s[0] / (double)c.devices, 1e6 * t_colls / (double)c.devices,
	       c.documents > 0 ? 1e6 * t_docs / (double)c.documents : 0.0,
	       c.single > 0 ? 1e6 * t_single / (double)c.single : 0.0,
	       c.devices > c.single ? 1e6 * t_batched / (double)(c.devices - c.single) : 0.0,
	       t_single + t_batched, 1e3 * t_table, hwm_end);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "policy_resolve: %s\n", err.message[0] != '\0' ? err.message : "failed");
out:
	for (size_t k = 0; block != NULL && k < BLOCK; k++)
		free(block[k]);
	free(block);
	free(block_n);
	free(bits);
	free(deployed);
	free(round_s);
	free(dev_ids);
	free(coll_ids);
	policy_table_free(&t);
	store_close(s);
	return rc;
}
