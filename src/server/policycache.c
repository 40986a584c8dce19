/* policycache.c - machine policy answers kept in memory (policycache.h). A chained hash table
 * of fixed size over the credential digests (already uniform: the first eight bytes are the
 * hash) and a list from the most to the least recently served answer. */
#include "policycache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 16384u /* a power of two; chains stay short up to about 50,000 answers */

struct policycache {
	pthread_mutex_t lock;
	struct policycache_entry *buckets[BUCKETS];
	struct policycache_entry *newest, *oldest;
	size_t entries, bytes, max_bytes;
	int64_t generation;
	uint64_t hits, misses, evictions, drops;
};

static size_t bucket_of(const uint8_t key[32])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)(h & (BUCKETS - 1));
}

struct policycache *policycache_new(size_t max_bytes)
{
	struct policycache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return NULL;
	}
	c->max_bytes = max_bytes != 0 ? max_bytes : POLICYCACHE_DEFAULT_BYTES;
	return c;
}

static void entry_free(struct policycache_entry *e)
{
	free(e->body);
	free(e);
}

static void unref(struct policycache_entry *e)
{
	if (--e->refs == 0)
		entry_free(e);
}

static void list_unlink(struct policycache *c, struct policycache_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void list_push_newest(struct policycache *c, struct policycache_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

/* Takes e out of the table and the list and drops the table's reference. */
static void detach(struct policycache *c, struct policycache_entry *e)
{
	struct policycache_entry **p = &c->buckets[bucket_of(e->key)];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	e->chain = NULL;
	list_unlink(c, e);
	e->in_table = false;
	c->entries--;
	c->bytes -= e->bytes;
	unref(e);
}

static void drop_all(struct policycache *c)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		struct policycache_entry *e = c->buckets[b], *next;

		c->buckets[b] = NULL;
		for (; e != NULL; e = next) {
			next = e->chain;
			e->chain = e->newer = e->older = NULL;
			e->in_table = false;
			c->drops++;
			unref(e);
		}
	}
	c->newest = c->oldest = NULL;
	c->entries = 0;
	c->bytes = 0;
}

/* Moves the cache to generation gen when it is newer; false when gen is older. */
static bool at_generation(struct policycache *c, int64_t gen)
{
	if (gen > c->generation) {
		drop_all(c);
		c->generation = gen;
	}
	return gen == c->generation;
}

static struct policycache_entry *find(struct policycache *c, const uint8_t key[32])
{
	struct policycache_entry *e = c->buckets[bucket_of(key)];

	while (e != NULL && memcmp(e->key, key, sizeof(e->key)) != 0)
		e = e->chain;
	return e;
}

void policycache_free(struct policycache *c)
{
	if (c == NULL)
		return;
	drop_all(c);
	(void)pthread_mutex_destroy(&c->lock);
	free(c);
}

struct policycache_entry *policycache_get(struct policycache *c, const uint8_t key[32], int64_t gen,
					  int64_t now)
{
	struct policycache_entry *e = NULL;

	(void)pthread_mutex_lock(&c->lock);
	if (at_generation(c, gen)) {
		e = find(c, key);
		if (e != NULL && now >= e->valid_until) {
			detach(c, e);
			e = NULL;
		}
	}
	if (e != NULL) {
		list_unlink(c, e);
		list_push_newest(c, e);
		e->refs++;
		c->hits++;
	} else {
		c->misses++;
	}
	(void)pthread_mutex_unlock(&c->lock);
	return e;
}

struct policycache_entry *policycache_put(struct policycache *c, const uint8_t key[32], int64_t gen,
					  const char *device_id, const char *etag, char *body,
					  size_t len, int64_t valid_until, int64_t policy_time)
{
	struct policycache_entry *e = calloc(1, sizeof(*e)), *old, *victim, *next;
	size_t b;

	if (e == NULL) {
		free(body);
		return NULL;
	}
	memcpy(e->key, key, sizeof(e->key));
	(void)snprintf(e->device_id, sizeof(e->device_id), "%s", device_id);
	(void)snprintf(e->etag, sizeof(e->etag), "%s", etag);
	e->body = body;
	e->len = len;
	e->generation = gen;
	e->valid_until = valid_until;
	e->policy_time = policy_time;
	e->refs = 1;
	e->bytes = sizeof(*e) + len + 1;

	(void)pthread_mutex_lock(&c->lock);
	if (!at_generation(c, gen) || e->bytes > c->max_bytes)
		goto out; /* built from an older site, or too big to keep: the caller's alone */
	old = find(c, e->key);
	if (old != NULL)
		detach(c, old); /* another worker built the same answer meanwhile */
	b = bucket_of(e->key);
	e->chain = c->buckets[b];
	c->buckets[b] = e;
	list_push_newest(c, e);
	e->in_table = true;
	e->refs++;
	c->entries++;
	c->bytes += e->bytes;
	for (victim = c->oldest; c->bytes > c->max_bytes && victim != NULL && victim != e;
	     victim = next) {
		next = victim->newer;
		c->evictions++;
		detach(c, victim);
	}
out:
	(void)pthread_mutex_unlock(&c->lock);
	return e;
}

bool policycache_policy_time_due(struct policycache *c, struct policycache_entry *e, int64_t now,
				 int64_t interval)
{
	bool due;

	(void)pthread_mutex_lock(&c->lock);
	due = now - e->policy_time >= interval;
	if (due)
		e->policy_time = now;
	(void)pthread_mutex_unlock(&c->lock);
	return due;
}

void policycache_release(struct policycache *c, struct policycache_entry *e)
{
	if (e == NULL)
		return;
	(void)pthread_mutex_lock(&c->lock);
	unref(e);
	(void)pthread_mutex_unlock(&c->lock);
}

void policycache_stats(struct policycache *c, struct policycache_stats *out)
{
	(void)pthread_mutex_lock(&c->lock);
	out->entries = c->entries;
	out->bytes = c->bytes;
	out->max_bytes = c->max_bytes;
	out->hits = c->hits;
	out->misses = c->misses;
	out->evictions = c->evictions;
	out->drops = c->drops;
	out->generation = c->generation;
	(void)pthread_mutex_unlock(&c->lock);
}
