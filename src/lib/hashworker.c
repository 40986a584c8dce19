/* hashworker.c - see hashworker.h.
 *
 * A ring of HASHWORKER_SLOTS slots. The producer fills slot `fill`, either by copying into the
 * slot's own buffer or by lending a region it owns (a mapped window of a file); a filled slot is
 * handed to the thread, which hashes slots in the order they were handed over and returns lent
 * regions through their release callback. `queued` counts handed-over slots not yet hashed, so
 * fill == (next + queued) % HASHWORKER_SLOTS; the producer waits while every slot is queued.
 * Shared fields are under `lock`; a queued slot belongs to the thread. */
#include "hashworker.h"

#include "hresult.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct hashworker_slot {
	uint8_t *buffer;     /* owned, HASHWORKER_SLOT_SIZE bytes, allocated on first use */
	const uint8_t *lent; /* a lent region instead of the buffer, or NULL */
	size_t used;
	hashworker_release_fn release;
	void *release_ctx;
};

struct hashworker {
	EVP_MD_CTX *ctx; /* used by the thread while it runs, by the producer otherwise */
	struct hashworker_slot slot[HASHWORKER_SLOTS];
	unsigned fill;	 /* slot the producer is filling */
	unsigned next;	 /* next slot the thread hashes */
	unsigned queued; /* slots handed over, not yet hashed */
	bool running;	 /* thread started */
	bool stop;	 /* producer has no more slots to give */
	bool discard;	 /* hashworker_free: return what is queued without hashing it */
	bool failed;	 /* EVP_DigestUpdate failed in the thread */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
};

/* Hashes slot s (unless hash is false) and empties it, returning a lent region to its owner. */
static bool slot_hash(EVP_MD_CTX *ctx, struct hashworker_slot *s, bool hash)
{
	const uint8_t *data = s->lent != NULL ? s->lent : s->buffer;
	bool ok = !hash || s->used == 0 || EVP_DigestUpdate(ctx, data, s->used) == 1;

	if (s->lent != NULL && s->release != NULL)
		s->release(s->release_ctx, s->lent, s->used);
	s->lent = NULL;
	s->release = NULL;
	s->used = 0;
	return ok;
}

static void *hashworker_main(void *arg)
{
	struct hashworker *w = arg;
	unsigned i;
	bool hash;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->queued == 0 && !w->stop)
			pthread_cond_wait(&w->changed, &w->lock);
		if (w->queued == 0)
			break;
		i = w->next;
		hash = !w->discard;
		pthread_mutex_unlock(&w->lock);
		if (!slot_hash(w->ctx, &w->slot[i], hash))
			w->failed = true;
		pthread_mutex_lock(&w->lock);
		w->next = (i + 1) % HASHWORKER_SLOTS;
		w->queued--;
		pthread_cond_broadcast(&w->changed);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct hashworker *hashworker_new(const EVP_MD *md, struct pp_error *err)
{
	struct hashworker *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->changed, NULL);
	w->ctx = EVP_MD_CTX_new();
	if (w->ctx == NULL || EVP_DigestInit_ex(w->ctx, md, NULL) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot start the digest");
		hashworker_free(w);
		return NULL;
	}
	return w;
}

/* Hands the filled slot to the thread (starting it the first time) and waits for a free one.
 * Without a thread (it could not be started) the slot is hashed here. */
static int hand_over(struct hashworker *w, struct pp_error *err)
{
	unsigned i = w->fill;

	if (!w->running && pthread_create(&w->thread, NULL, hashworker_main, w) == 0)
		w->running = true;
	if (!w->running) {
		if (!slot_hash(w->ctx, &w->slot[i], true)) {
			pp_error_set_openssl(err, HR_E_FAIL, "digest update failed");
			return -1;
		}
		return 0;
	}
	pthread_mutex_lock(&w->lock);
	w->queued++;
	pthread_cond_broadcast(&w->changed);
	w->fill = (i + 1) % HASHWORKER_SLOTS;
	while (w->queued == HASHWORKER_SLOTS)
		pthread_cond_wait(&w->changed, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

uint8_t *hashworker_reserve(struct hashworker *w, size_t *room, struct pp_error *err)
{
	struct hashworker_slot *s = &w->slot[w->fill];

	if (s->buffer == NULL) {
		s->buffer = malloc(HASHWORKER_SLOT_SIZE);
		if (s->buffer == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return NULL;
		}
	}
	/* A full slot is always handed over at once, so there is room. */
	*room = HASHWORKER_SLOT_SIZE - s->used;
	return s->buffer + s->used;
}

int hashworker_commit(struct hashworker *w, size_t n, struct pp_error *err)
{
	struct hashworker_slot *s = &w->slot[w->fill];

	s->used += n;
	return s->used == HASHWORKER_SLOT_SIZE ? hand_over(w, err) : 0;
}

int hashworker_update(struct hashworker *w, const uint8_t *p, size_t n, struct pp_error *err)
{
	while (n > 0) {
		size_t room, take;
		uint8_t *dst = hashworker_reserve(w, &room, err);

		if (dst == NULL)
			return -1;
		take = n < room ? n : room;
		memcpy(dst, p, take);
		p += take;
		n -= take;
		if (hashworker_commit(w, take, err) != 0)
			return -1;
	}
	return 0;
}

int hashworker_lend(struct hashworker *w, const uint8_t *p, size_t n, hashworker_release_fn release,
		    void *release_ctx, struct pp_error *err)
{
	struct hashworker_slot *s = &w->slot[w->fill];

	/* Copied bytes waiting in the slot come first. */
	if (s->used > 0) {
		if (hand_over(w, err) != 0) {
			if (release != NULL)
				release(release_ctx, p, n);
			return -1;
		}
		s = &w->slot[w->fill];
	}
	s->lent = p;
	s->used = n;
	s->release = release;
	s->release_ctx = release_ctx;
	return hand_over(w, err);
}

/* Waits until the thread has dealt with everything handed over, then stops it. */
static void drain(struct hashworker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->running = false;
}

int hashworker_final(struct hashworker *w, uint8_t *out, unsigned int *len, struct pp_error *err)
{
	drain(w);
	/* What is left in the slot being filled comes after everything the thread hashed. */
	if (w->failed || !slot_hash(w->ctx, &w->slot[w->fill], true) ||
	    EVP_DigestFinal_ex(w->ctx, out, len) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot finish the digest");
		return -1;
	}
	return 0;
}

void hashworker_free(struct hashworker *w)
{
	unsigned i;

	if (w == NULL)
		return;
	if (w->running) {
		pthread_mutex_lock(&w->lock);
		w->discard = true;
		pthread_mutex_unlock(&w->lock);
		drain(w);
	}
	for (i = 0; i < HASHWORKER_SLOTS; i++) {
		(void)slot_hash(NULL, &w->slot[i], false);
		free(w->slot[i].buffer);
	}
	EVP_MD_CTX_free(w->ctx);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->changed);
	free(w);
}
