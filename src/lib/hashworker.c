/* hashworker.c - see hashworker.h.
 *
 * The producer fills slot `fill`; a full slot is handed to the thread, which hashes slots in the
 * order they were handed over. `queued` counts handed-over slots not yet hashed; the producer
 * waits when all slots are queued. Everything under `lock`. */
#include "hashworker.h"

#include "hresult.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct hashworker {
	EVP_MD_CTX *ctx; /* touched by the thread only while it runs */
	uint8_t *slot[HASHWORKER_SLOTS];
	size_t used[HASHWORKER_SLOTS];
	unsigned fill;	 /* slot the producer is filling */
	unsigned next;	 /* next slot the thread hashes */
	unsigned queued; /* slots handed over, not yet hashed */
	bool running;	 /* thread started */
	bool stop;	 /* producer has no more slots to give */
	bool discard;	 /* hashworker_free: drop what is still queued */
	bool failed;	 /* EVP_DigestUpdate failed in the thread */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
};

static void *hashworker_main(void *arg)
{
	struct hashworker *w = arg;
	unsigned i;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->queued == 0 && !w->stop)
			pthread_cond_wait(&w->changed, &w->lock);
		if (w->queued == 0 || w->discard)
			break;
		i = w->next;
		pthread_mutex_unlock(&w->lock);
		/* The slot is ours until queued drops: the producer never fills a queued slot. */
		if (EVP_DigestUpdate(w->ctx, w->slot[i], w->used[i]) != 1)
			w->failed = true;
		pthread_mutex_lock(&w->lock);
		w->used[i] = 0;
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

	if (!w->running) {
		if (pthread_create(&w->thread, NULL, hashworker_main, w) == 0) {
			w->running = true;
		} else {
			if (EVP_DigestUpdate(w->ctx, w->slot[i], w->used[i]) != 1) {
				pp_error_set_openssl(err, HR_E_FAIL, "digest update failed");
				return -1;
			}
			w->used[i] = 0;
			return 0;
		}
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
	unsigned i = w->fill;

	if (w->slot[i] == NULL) {
		w->slot[i] = malloc(HASHWORKER_SLOT_SIZE);
		if (w->slot[i] == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return NULL;
		}
	}
	/* A full slot is always handed over at once, so there is room. */
	*room = HASHWORKER_SLOT_SIZE - w->used[i];
	return w->slot[i] + w->used[i];
}

int hashworker_commit(struct hashworker *w, size_t n, struct pp_error *err)
{
	unsigned i = w->fill;

	w->used[i] += n;
	return w->used[i] == HASHWORKER_SLOT_SIZE ? hand_over(w, err) : 0;
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

/* Waits until the thread has hashed everything handed over, then stops it. */
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
	unsigned i = w->fill;

	drain(w);
	/* What is left in the slot being filled comes after everything the thread hashed. */
	if (w->failed ||
	    (w->used[i] > 0 && EVP_DigestUpdate(w->ctx, w->slot[i], w->used[i]) != 1) ||
	    EVP_DigestFinal_ex(w->ctx, out, len) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot finish the digest");
		return -1;
	}
	w->used[i] = 0;
	return 0;
}

void hashworker_free(struct hashworker *w)
{
	unsigned i;

	if (w == NULL)
		return;
	if (w->running) {
		/* Drop what is queued: the caller gave up on this digest. */
		pthread_mutex_lock(&w->lock);
		w->discard = true;
		pthread_mutex_unlock(&w->lock);
		drain(w);
	}
	for (i = 0; i < HASHWORKER_SLOTS; i++)
		free(w->slot[i]);
	EVP_MD_CTX_free(w->ctx);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->changed);
	free(w);
}
