/* upload.c - resumable chunked uploads on disk (see upload.h and docs/internals/uploads.md).
 *
 * The record <id>.json is the truth about what was acknowledged: it is replaced (durably) only
 * after the chunk it counts is on disk, so a crash leaves either the old record with a longer
 * data file (cut back on the next append) or the new one with its data. */
#include "upload.h"

#include "atomicfile.h"
#include "cabupload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#define UPLOAD_META_MAX	   4096		/* bytes of a record */
#define UPLOAD_META_FORMAT 1		/* "v" of a record */
#define UPLOAD_HASH_BUF	   (1u << 20)	/* read size while hashing the data */
#define DIGEST_CACHE_SIZE  16		/* uploads whose running digests stay in memory */
#define DIGEST_THREAD_MIN  (256u << 10) /* chunks from this size are hashed on two threads */
#define META_SUFFIX	   ".json"
#define PART_SUFFIX	   ".part"
#define TEMP_HEX	   16 /* atomicfile's ".<name>.<16 hex>" temporary names */
#define BOOT_ID_LEN	   36 /* /proc/sys/kernel/random/boot_id, a UUID */

static const char hexdigits[] = "0123456789abcdef";

/* ---- names ---- */

static bool is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool upload_id_valid(const char *id)
{
	return id != NULL && strnlen(id, UPLOAD_ID_LEN + 1) == UPLOAD_ID_LEN &&
	       is_lower_hex(id, UPLOAD_ID_LEN);
}

bool upload_name_valid(const char *name)
{
	size_t n, i;

	if (name == NULL)
		return false;
	n = strnlen(name, UPLOAD_NAME_MAX + 1);
	if (n == 0 || n > UPLOAD_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

/* Copies a 64-hex-digit SHA-256 (either case) into out in lower case; -1 when it is not one. */
static int sha256_normalize(const char *hex, char out[UPLOAD_SHA256_HEX_LEN + 1])
{
	size_t i;

	if (strnlen(hex, UPLOAD_SHA256_HEX_LEN + 1) != UPLOAD_SHA256_HEX_LEN)
		return -1;
	for (i = 0; i < UPLOAD_SHA256_HEX_LEN; i++) {
		char c = hex[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[UPLOAD_SHA256_HEX_LEN] = '\0';
	return 0;
}

/* The checked id first, so that no file name is ever built from anything else. */
static int check_id(const char *id, struct pp_error *err)
{
	if (upload_id_valid(id))
		return 0;
	pp_error_set(err, UPLOAD_E_BAD_ID, "upload id '%.40s%s' is not %d lower-case hex digits",
		     id != NULL ? id : "", id != NULL && strlen(id) > 40 ? "..." : "",
		     UPLOAD_ID_LEN);
	return -1;
}

/* dir/<id><suffix> into out. */
static int upload_path(char *out, size_t size, const char *dir, const char *id, const char *suffix,
		       struct pp_error *err)
{
	int n = snprintf(out, size, "%s/%s%s", dir, id, suffix);

	if (n < 0 || (size_t)n >= size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "the uploads directory path is too long: %s", dir);
		return -1;
	}
	return 0;
}

/* ---- I/O helpers ---- */

static int write_all_at(int fd, const void *data, size_t len, uint64_t offset)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/* Writes iov[0 .. n) one after the other from offset. */
static int write_pieces_at(int fd, const struct iovec *iov, size_t n, uint64_t offset)
{
	for (size_t i = 0; i < n; i++) {
		if (write_all_at(fd, iov[i].iov_base, iov[i].iov_len, offset) != 0)
			return -1;
		offset += iov[i].iov_len;
	}
	return 0;
}

static int lock_file(int fd, int how)
{
	int rc;

	do
		rc = flock(fd, how);
	while (rc != 0 && errno == EINTR);
	return rc;
}

static void hex_encode(const unsigned char *bin, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdigits[bin[i] >> 4];
		out[2 * i + 1] = hexdigits[bin[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- durability ----
 *
 * A chunk is written and its writeback started before it is acknowledged; the data file is
 * synced (fdatasync) when the upload completes and whenever it ran UPLOAD_SYNC_STEP bytes
 * ahead of the last sync, and the record says how far that was ("durable") and under which
 * boot of the machine it was written. Written data outlives a crash of patchpointd (the page
 * cache keeps it), so a record of the same boot is believed up to "received"; after a restart
 * of the machine only "durable" is. Without a boot id every chunk is synced. */

static pthread_once_t boot_once = PTHREAD_ONCE_INIT;
static char boot_value[BOOT_ID_LEN + 1];

static void boot_read(void)
{
	char buf[BOOT_ID_LEN + 2] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) != NULL && strlen(buf) >= BOOT_ID_LEN &&
	    (buf[BOOT_ID_LEN] == '\n' || buf[BOOT_ID_LEN] == '\0')) {
		memcpy(boot_value, buf, BOOT_ID_LEN);
		boot_value[BOOT_ID_LEN] = '\0';
	}
	(void)fclose(f);
}

/* The boot id of the running kernel, "" when it cannot be read. */
static const char *boot_id(void)
{
	(void)pthread_once(&boot_once, boot_read);
	return boot_value;
}

/* After a chunk of info was written to fd, received bytes in all: syncs when it is due (the
 * upload is complete, ran far enough ahead, or no boot id tells restarts apart), else starts
 * the writeback of what was written so that a later sync has little left to wait for. */
static int sync_due(int fd, struct upload_info *info, uint64_t received)
{
	if (received == info->size || received - info->durable >= UPLOAD_SYNC_STEP ||
	    boot_id()[0] == '\0') {
		if (fdatasync(fd) != 0)
			return -1;
		info->durable = received;
		return 0;
	}
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/* ---- running digests ----
 *
 * SHA-1 and SHA-256 of an upload's acknowledged bytes, kept in memory from one chunk to the next
 * so that completing an upload reads nothing again. An append takes its upload's entry out of
 * the table (the lock on the data file makes it the only one using it) and puts it back once the
 * chunk is acknowledged; an entry that is missing (a restart, one evicted from the full table)
 * or that counts other bytes is rebuilt from the acknowledged bytes on disk. */

struct running {
	char id[UPLOAD_ID_LEN + 1];
	uint64_t offset; /* bytes hashed */
	EVP_MD_CTX *sha1, *sha256;
	struct cabupload *cab; /* a cabinet upload's digests instead (sha1, sha256 NULL) */
};

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct running *running_table[DIGEST_CACHE_SIZE];
static unsigned running_victim; /* next slot evicted when the table is full */

/* Appends in the background, and what the last one that failed said, per upload. */
static pthread_mutex_t background_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t background_done = PTHREAD_COND_INITIALIZER;
static unsigned background_count;
static struct {
	char id[UPLOAD_ID_LEN + 1];
	char message[PP_ERROR_MESSAGE_MAX];
} background_failure[DIGEST_CACHE_SIZE];
static unsigned background_failure_next;

static void running_free(struct running *r)
{
	if (r == NULL)
		return;
	EVP_MD_CTX_free(r->sha1);
	EVP_MD_CTX_free(r->sha256);
	cabupload_free(r->cab);
	free(r);
}

static struct running *running_new(const char *id, struct pp_error *err)
{
	struct running *r = calloc(1, sizeof(*r));

	if (r != NULL) {
		r->sha1 = EVP_MD_CTX_new();
		r->sha256 = EVP_MD_CTX_new();
	}
	if (r == NULL || r->sha1 == NULL || r->sha256 == NULL ||
	    EVP_DigestInit_ex(r->sha1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(r->sha256, EVP_sha256(), NULL) != 1) {
		running_free(r);
		pp_error_set_openssl(err, HR_E_OUTOFMEMORY, "cannot start the digests of upload %s",
				     id);
		return NULL;
	}
	memcpy(r->id, id, UPLOAD_ID_LEN + 1);
	return r;
}

/* The cabinet layout of cabinet upload info. */
static int layout_of(const struct upload_info *info, struct cab_single *l, struct pp_error *err)
{
	return cab_single_layout(info->size, info->name, (time_t)info->created_at,
				 info->signature_length, l, err);
}

/* The running state of a cabinet upload from its first received bytes in fd (fd < 0: none
 * yet). */
static struct running *running_cabinet(const struct upload_info *info, int fd, uint64_t received,
				       struct pp_error *err)
{
	struct running *r = calloc(1, sizeof(*r));
	struct cab_single l;

	if (r == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory for upload %s", info->id);
		return NULL;
	}
	memcpy(r->id, info->id, UPLOAD_ID_LEN + 1);
	/* From nothing, the header is written again: a create cut short may have left none. */
	if (layout_of(info, &l, err) != 0 ||
	    (fd >= 0 && received == 0 && cabupload_write_header(&l, fd, err) != 0) ||
	    (r->cab = received == 0 ? cabupload_new(&l, err)
				    : cabupload_rebuild(&l, fd, received, err)) == NULL) {
		running_free(r);
		return NULL;
	}
	r->offset = received;
	return r;
}

/* Takes the entry of id out of the table: NULL when there is none or it does not count exactly
 * offset bytes. */
static struct running *running_take(const char *id, uint64_t offset)
{
	struct running *r = NULL;

	(void)pthread_mutex_lock(&running_lock);
	for (unsigned i = 0; i < DIGEST_CACHE_SIZE; i++)
		if (running_table[i] != NULL && strcmp(running_table[i]->id, id) == 0) {
			r = running_table[i];
			running_table[i] = NULL;
			break;
		}
	(void)pthread_mutex_unlock(&running_lock);
	if (r != NULL && r->offset != offset) {
		running_free(r);
		r = NULL;
	}
	return r;
}

static void running_put(struct running *r)
{
	struct running *evicted = NULL;
	unsigned i;

	(void)pthread_mutex_lock(&running_lock);
	for (i = 0; i < DIGEST_CACHE_SIZE && running_table[i] != NULL; i++)
		;
	if (i == DIGEST_CACHE_SIZE) {
		i = running_victim;
		running_victim = (running_victim + 1) % DIGEST_CACHE_SIZE;
		evicted = running_table[i];
	}
	running_table[i] = r;
	(void)pthread_mutex_unlock(&running_lock);
	running_free(evicted);
}

/* Forgets the entry of id (a removed upload). */
static void running_drop(const char *id)
{
	running_free(running_take(id, UINT64_MAX));
}

void upload_digests_release(void)
{
	/* Appends still writing first: they put their digests back. */
	(void)pthread_mutex_lock(&background_lock);
	while (background_count > 0)
		(void)pthread_cond_wait(&background_done, &background_lock);
	(void)pthread_mutex_unlock(&background_lock);
	(void)pthread_mutex_lock(&running_lock);
	for (unsigned i = 0; i < DIGEST_CACHE_SIZE; i++) {
		running_free(running_table[i]);
		running_table[i] = NULL;
	}
	(void)pthread_mutex_unlock(&running_lock);
}

struct hash_job {
	EVP_MD_CTX *ctx;
	const struct iovec *iov;
	size_t n;
	int ok;
};

static void *hash_job_run(void *arg)
{
	struct hash_job *j = arg;

	j->ok = 1;
	for (size_t i = 0; i < j->n && j->ok; i++)
		j->ok = EVP_DigestUpdate(j->ctx, j->iov[i].iov_base, j->iov[i].iov_len) == 1;
	return NULL;
}

/* Hashing a chunk on two threads of its own while the caller writes it and waits for the disk. */
struct chunk_hash {
	struct hash_job job[2];
	pthread_t thread[2];
	bool started[2];
};

static void chunk_hash_start(struct chunk_hash *h, struct running *r, const struct iovec *iov,
			     size_t n, size_t len)
{
	memset(h, 0, sizeof(*h));
	h->job[0] = (struct hash_job){r->sha1, iov, n, 0};
	h->job[1] = (struct hash_job){r->sha256, iov, n, 0};
	for (int i = 0; i < 2 && len >= DIGEST_THREAD_MIN; i++)
		h->started[i] = pthread_create(&h->thread[i], NULL, hash_job_run, &h->job[i]) == 0;
}

/* Waits for both digests (hashing here what no thread took); false when one failed. */
static bool chunk_hash_wait(struct chunk_hash *h)
{
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		if (h->started[i])
			(void)pthread_join(h->thread[i], NULL);
		else
			(void)hash_job_run(&h->job[i]);
		ok = ok && h->job[i].ok;
	}
	return ok;
}

/* The running digests of the first size bytes of fd (a restart, or an evicted entry). */
static struct running *running_rebuild(int fd, uint64_t size, const char *id, struct pp_error *err)
{
	struct running *r = running_new(id, err);
	unsigned char *buf;

	if (r == NULL)
		return NULL;
	buf = malloc(UPLOAD_HASH_BUF);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory while hashing upload %s", id);
		goto fail;
	}
	while (r->offset < size) {
		size_t want = size - r->offset < UPLOAD_HASH_BUF ? (size_t)(size - r->offset)
								 : UPLOAD_HASH_BUF;
		ssize_t n = pread(fd, buf, want, (off_t)r->offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pp_error_set_errno(err, n < 0 ? errno : EIO, "cannot read upload %s", id);
			goto fail;
		}
		if (EVP_DigestUpdate(r->sha1, buf, (size_t)n) != 1 ||
		    EVP_DigestUpdate(r->sha256, buf, (size_t)n) != 1) {
			pp_error_set_openssl(err, HR_E_FAIL, "hashing upload %s failed", id);
			goto fail;
		}
		r->offset += (uint64_t)n;
	}
	free(buf);
	return r;
fail:
	free(buf);
	running_free(r);
	return NULL;
}

/* Finishes both digests as lower-case hex; r is spent. */
static int running_final(struct running *r, char sha1[UPLOAD_SHA1_HEX_LEN + 1],
			 char sha256[UPLOAD_SHA256_HEX_LEN + 1], struct pp_error *err)
{
	unsigned char d1[20], d256[32];
	unsigned n1 = 0, n256 = 0;

	if (EVP_DigestFinal_ex(r->sha1, d1, &n1) != 1 ||
	    EVP_DigestFinal_ex(r->sha256, d256, &n256) != 1 || n1 != sizeof(d1) ||
	    n256 != sizeof(d256)) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot finish the digests of upload %s",
				     r->id);
		return -1;
	}
	hex_encode(d1, sizeof(d1), sha1);
	hex_encode(d256, sizeof(d256), sha256);
	return 0;
}

/* ---- the record ---- */

/* The data file as it was when the upload completed: the digests of the record hold for it only
 * while these are unchanged (ctime cannot be set back by anyone who writes to the file). */
struct data_stamp {
	bool set;
	uint64_t ino;
	int64_t mtime_ns, ctime_ns;
	char boot[BOOT_ID_LEN + 1]; /* the record's writer's boot id, "" for an older record */
};

static void data_stamp_of(const struct stat *st, struct data_stamp *out)
{
	out->set = true;
	out->ino = (uint64_t)st->st_ino;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	out->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* Writes the record; stamp (may be NULL) goes with a complete upload. */
static int meta_write(const char *dir, const struct upload_info *info,
		      const struct data_stamp *stamp, struct pp_error *err)
{
	char path[PATH_MAX];
	json_t *doc;
	char *text = NULL;
	int rc = -1;

	if (upload_path(path, sizeof(path), dir, info->id, META_SUFFIX, err) != 0)
		return -1;
	doc = json_pack("{s:i, s:s, s:I, s:I, s:b, s:s?, s:s?, s:s?, s:I, s:I}", "v",
			UPLOAD_META_FORMAT, "id", info->id, "size", (json_int_t)info->size,
			"received", (json_int_t)info->received, "complete", info->complete,
			"sha256", info->sha256[0] != '\0' ? info->sha256 : NULL, "sha1",
			info->sha1[0] != '\0' ? info->sha1 : NULL, "name",
			info->name[0] != '\0' ? info->name : NULL, "created_at",
			(json_int_t)info->created_at, "updated_at", (json_int_t)info->updated_at);
	if (doc != NULL &&
	    (json_object_set_new(doc, "durable", json_integer((json_int_t)info->durable)) != 0 ||
	     (boot_id()[0] != '\0' &&
	      json_object_set_new(doc, "boot", json_string(boot_id())) != 0))) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc != NULL && info->cabinet &&
	    json_object_set_new(doc, "cabinet", json_integer(info->signature_length)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc != NULL && stamp != NULL && stamp->set &&
	    json_object_set_new(doc, "data",
				json_pack("[I, I, I]", (json_int_t)stamp->ino,
					  (json_int_t)stamp->mtime_ns,
					  (json_int_t)stamp->ctime_ns)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc != NULL)
		text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory while recording upload %s",
			     info->id);
		return -1;
	}
	if (atomicfile_write(path, text, strlen(text), 0600, true, err) != 0)
		goto out;
	rc = 0;
out:
	free(text);
	return rc;
}

/* An integer member within [0, max]. */
static int meta_uint(const json_t *doc, const char *key, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(doc, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* An optional string member that passes check (NULL: any), copied into out; "" when null. */
static int meta_str(const json_t *doc, const char *key, bool (*check)(const char *), char *out,
		    size_t size)
{
	const json_t *v = json_object_get(doc, key);

	out[0] = '\0';
	if (json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    (check != NULL && !check(json_string_value(v))))
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static bool sha256_hex_valid(const char *s)
{
	return strlen(s) == UPLOAD_SHA256_HEX_LEN && is_lower_hex(s, UPLOAD_SHA256_HEX_LEN);
}

static bool sha1_hex_valid(const char *s)
{
	return strlen(s) == UPLOAD_SHA1_HEX_LEN && is_lower_hex(s, UPLOAD_SHA1_HEX_LEN);
}

/* The optional "data" stamp: [ino, mtime_ns, ctime_ns], all >= 0. */
static int meta_stamp(const json_t *doc, struct data_stamp *stamp)
{
	const json_t *a = json_object_get(doc, "data");
	json_int_t v[3];

	memset(stamp, 0, sizeof(*stamp));
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) != 3)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		const json_t *e = json_array_get(a, i);

		if (!json_is_integer(e) || json_integer_value(e) < 0)
			return -1;
		v[i] = json_integer_value(e);
	}
	stamp->set = true;
	stamp->ino = (uint64_t)v[0];
	stamp->mtime_ns = (int64_t)v[1];
	stamp->ctime_ns = (int64_t)v[2];
	return 0;
}

/* Parses a record read from disk into *info; everything in it is checked. */
static int meta_parse(const char *text, size_t len, const char *id, struct upload_info *info,
		      struct data_stamp *stamp)
{
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	uint64_t v, created, updated;
	const json_t *complete;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	if (!json_is_object(doc) || meta_uint(doc, "v", UPLOAD_META_FORMAT, &v) != 0 ||
	    v != UPLOAD_META_FORMAT || !json_is_string(json_object_get(doc, "id")) ||
	    strcmp(json_string_value(json_object_get(doc, "id")), id) != 0 ||
	    meta_uint(doc, "size", UPLOAD_SIZE_MAX, &info->size) != 0 ||
	    meta_uint(doc, "received", info->size, &info->received) != 0 ||
	    meta_uint(doc, "created_at", INT64_MAX, &created) != 0 ||
	    meta_uint(doc, "updated_at", INT64_MAX, &updated) != 0 ||
	    meta_str(doc, "sha256", sha256_hex_valid, info->sha256, sizeof(info->sha256)) != 0 ||
	    meta_str(doc, "sha1", sha1_hex_valid, info->sha1, sizeof(info->sha1)) != 0 ||
	    meta_str(doc, "name", upload_name_valid, info->name, sizeof(info->name)) != 0 ||
	    meta_stamp(doc, stamp) != 0)
		goto out;
	complete = json_object_get(doc, "complete");
	if (!json_is_boolean(complete))
		goto out;
	/* Older records were synced with every chunk. */
	info->durable = info->received;
	if (json_object_get(doc, "durable") != NULL &&
	    meta_uint(doc, "durable", info->received, &info->durable) != 0)
		goto out;
	if (meta_str(doc, "boot", NULL, stamp->boot, sizeof(stamp->boot)) != 0)
		goto out;
	if (json_object_get(doc, "cabinet") != NULL) {
		uint64_t sig;

		if (meta_uint(doc, "cabinet", UINT32_MAX, &sig) != 0 || info->name[0] == '\0')
			goto out;
		info->cabinet = true;
		info->signature_length = (uint32_t)sig;
	}
	info->complete = json_is_true(complete);
	if (info->complete && (info->received != info->size || info->sha256[0] == '\0'))
		goto out;
	memcpy(info->id, id, UPLOAD_ID_LEN + 1);
	info->created_at = (int64_t)created;
	info->updated_at = (int64_t)updated;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* Reads the record of id (already checked). UPLOAD_E_NOT_FOUND when there is none. */
static int meta_read(const char *dir, const char *id, struct upload_info *info,
		     struct data_stamp *stamp, struct pp_error *err)
{
	char path[PATH_MAX], text[UPLOAD_META_MAX + 1];
	struct stat st;
	size_t len = 0;
	int fd = -1, rc = -1;

	if (upload_path(path, sizeof(path), dir, id, META_SUFFIX, err) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			pp_error_set(err, UPLOAD_E_NOT_FOUND, "no upload %s (it may have expired)",
				     id);
		else
			pp_error_set_errno(err, errno, "cannot read the record of upload %s", id);
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > UPLOAD_META_MAX) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT, "the record of upload %s is damaged", id);
		goto out;
	}
	while (len < sizeof(text) - 1) {
		ssize_t n = read(fd, text + len, sizeof(text) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read the record of upload %s", id);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (meta_parse(text, len, id, info, stamp) != 0) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT, "the record of upload %s is damaged", id);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

/* Opens the data file of id (checked) with flags; UPLOAD_E_NOT_FOUND when there is none. */
static int part_open(const char *dir, const char *id, int flags, struct pp_error *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (upload_path(path, sizeof(path), dir, id, PART_SUFFIX, err) != 0)
		return -1;
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			pp_error_set(err, UPLOAD_E_NOT_FOUND, "no upload %s (it may have expired)",
				     id);
		else
			pp_error_set_errno(err, errno, "cannot open the data of upload %s", id);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT, "the data of upload %s is not a file", id);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* *len gets the length of the data file of info once received bytes are in it: received, or
 * for a cabinet upload where they end in the cabinet. */
static int data_length_of(const struct upload_info *info, uint64_t received, uint64_t *len,
			  struct pp_error *err)
{
	struct cab_single l;

	if (!info->cabinet) {
		*len = received;
		return 0;
	}
	if (layout_of(info, &l, err) != 0)
		return -1;
	*len = cab_single_file_length(&l, received);
	return 0;
}

/* The record of id with received made to agree with the data file open at fd: the bytes
 * acknowledged, or fewer if the data file lost some (then they must be sent again). A complete
 * upload whose data file changed since it completed is refused: its digests no longer hold. */
static int state_read(const char *dir, const char *id, int fd, struct upload_info *info,
		      off_t *data_len, struct pp_error *err)
{
	struct data_stamp recorded, now;
	struct stat st;

	if (meta_read(dir, id, info, &recorded, err) != 0)
		return -1;
	/* Written under another boot of the machine: only what was synced is sure to be there. */
	if (recorded.boot[0] != '\0' && strcmp(recorded.boot, boot_id()) != 0 &&
	    info->received > info->durable) {
		info->received = info->durable;
		info->complete = false;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot read the data of upload %s", id);
		return -1;
	}
	*data_len = st.st_size;
	if (info->cabinet) {
		struct cab_single l;

		if (layout_of(info, &l, err) != 0)
			return -1;
		if ((uint64_t)st.st_size < cab_single_file_length(&l, info->received)) {
			info->received = cab_single_received(&l, (uint64_t)st.st_size);
			info->complete = false;
		}
	} else if ((uint64_t)st.st_size < info->received) {
		info->received = (uint64_t)st.st_size;
		info->complete = false;
	}
	data_stamp_of(&st, &now);
	if (info->complete && recorded.set &&
	    (recorded.ino != now.ino || recorded.mtime_ns != now.mtime_ns ||
	     recorded.ctime_ns != now.ctime_ns)) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT,
			     "the data of upload %s changed after it was complete; delete the "
			     "upload and send the file again",
			     id);
		return -1;
	}
	return 0;
}

/* Unlinks the record first, then the data: a data file alone is not an upload. */
static void files_remove(const char *dir, const char *id)
{
	char path[PATH_MAX];

	if (upload_path(path, sizeof(path), dir, id, META_SUFFIX, NULL) == 0)
		(void)unlink(path);
	if (upload_path(path, sizeof(path), dir, id, PART_SUFFIX, NULL) == 0)
		(void)unlink(path);
}

/* ---- the directory ---- */

/* What a directory entry is: an upload's record or data file (id filled in), a temporary file
 * left by atomicfile for a record, or something else. */
enum entry_kind { ENTRY_OTHER, ENTRY_META, ENTRY_PART, ENTRY_TEMP };

static enum entry_kind entry_kind(const char *name, char id[UPLOAD_ID_LEN + 1])
{
	size_t n = strlen(name), sl = strlen(META_SUFFIX);

	/* ".<id>.json.<16 hex>" */
	if (n == 1 + UPLOAD_ID_LEN + sl + 1 + TEMP_HEX && name[0] == '.' &&
	    is_lower_hex(name + 1, UPLOAD_ID_LEN) &&
	    memcmp(name + 1 + UPLOAD_ID_LEN, META_SUFFIX ".", sl + 1) == 0 &&
	    is_lower_hex(name + 1 + UPLOAD_ID_LEN + sl + 1, TEMP_HEX))
		return ENTRY_TEMP;
	if (n != UPLOAD_ID_LEN + sl || !is_lower_hex(name, UPLOAD_ID_LEN))
		return ENTRY_OTHER;
	memcpy(id, name, UPLOAD_ID_LEN);
	id[UPLOAD_ID_LEN] = '\0';
	if (strcmp(name + UPLOAD_ID_LEN, META_SUFFIX) == 0)
		return ENTRY_META;
	if (strcmp(name + UPLOAD_ID_LEN, PART_SUFFIX) == 0)
		return ENTRY_PART;
	return ENTRY_OTHER;
}

/* Number of uploads (records) in dir. */
static int count_uploads(const char *dir, unsigned *count, struct pp_error *err)
{
	char id[UPLOAD_ID_LEN + 1];
	DIR *d = opendir(dir);
	const struct dirent *e;

	*count = 0;
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read the uploads directory %s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (entry_kind(e->d_name, id) == ENTRY_META)
			(*count)++;
	(void)closedir(d);
	return 0;
}

static int new_id(char id[UPLOAD_ID_LEN + 1], struct pp_error *err)
{
	unsigned char rnd[UPLOAD_ID_LEN / 2];
	ssize_t got;

	do
		got = getrandom(rnd, sizeof(rnd), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(rnd)) {
		pp_error_set_errno(err, got < 0 ? errno : EIO, "no random bytes for an upload id");
		return -1;
	}
	hex_encode(rnd, sizeof(rnd), id);
	return 0;
}

/* ---- operations ---- */

/* With the last byte on disk: finishes the digests of r (spent, but for a cabinet upload's,
 * which the caller keeps for the signature), checks the expected SHA-256
 * (a mismatch is UPLOAD_E_DIGEST_MISMATCH; the caller removes the upload) and marks info
 * complete with both digests, stamping the data file open at fd. */
static int complete_upload(struct running *r, int fd, struct upload_info *info,
			   struct data_stamp *stamp, struct pp_error *err)
{
	char sha1[UPLOAD_SHA1_HEX_LEN + 1], sha256[UPLOAD_SHA256_HEX_LEN + 1];
	struct stat st;
	int rc;

	if (r->cab != NULL) {
		/* The cabinet's own digests stay open for the signature: r lives on. */
		uint8_t d1[20], d256[32];

		rc = cabupload_complete(r->cab, d1, d256, err);
		hex_encode(d1, sizeof(d1), sha1);
		hex_encode(d256, sizeof(d256), sha256);
	} else {
		rc = running_final(r, sha1, sha256, err);
		running_free(r);
	}
	if (rc != 0)
		return -1;
	if (info->sha256[0] != '\0' && strcmp(sha256, info->sha256) != 0) {
		pp_error_set(err, UPLOAD_E_DIGEST_MISMATCH,
			     "upload %s: SHA-256 of the received %llu bytes is %s, expected %s",
			     info->id, (unsigned long long)info->size, sha256, info->sha256);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot read the data of upload %s", info->id);
		return -1;
	}
	memcpy(info->sha1, sha1, sizeof(sha1));
	memcpy(info->sha256, sha256, sizeof(sha256));
	info->complete = true;
	data_stamp_of(&st, stamp);
	return 0;
}

/* upload_create and upload_create_cabinet (signature_length > 0). */
static int create(const char *dir, uint64_t size, const char *sha256_hex, const char *name,
		  uint32_t signature_length, struct upload_info *out, struct pp_error *err)
{
	struct upload_info info;
	char path[PATH_MAX], expected[UPLOAD_SHA256_HEX_LEN + 1] = "";
	struct data_stamp stamp = {0};
	struct statvfs vfs;
	unsigned count;
	int fd = -1, rc = -1;
	bool made = false;

	memset(&info, 0, sizeof(info));
	if (size > UPLOAD_SIZE_MAX) {
		pp_error_set(err, UPLOAD_E_TOO_LARGE,
			     "an upload of %llu bytes is over the limit of %llu bytes (%llu GiB)",
			     (unsigned long long)size, (unsigned long long)UPLOAD_SIZE_MAX,
			     (unsigned long long)(UPLOAD_SIZE_MAX >> 30));
		goto out;
	}
	if (sha256_hex != NULL && sha256_normalize(sha256_hex, expected) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "sha256 must be %d hex digits",
			     UPLOAD_SHA256_HEX_LEN);
		goto out;
	}
	if (name != NULL && !upload_name_valid(name)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "name must be 1 to %d bytes without '/' or control characters, and "
			     "not '.' or '..'",
			     UPLOAD_NAME_MAX);
		goto out;
	}
	if (count_uploads(dir, &count, err) != 0)
		goto out;
	if (count >= UPLOAD_COUNT_MAX) {
		pp_error_set(err, UPLOAD_E_NO_SPACE,
			     "%u uploads are open, the most there can be; finish or delete one",
			     count);
		goto out;
	}
	if (statvfs(dir, &vfs) != 0) {
		pp_error_set_errno(err, errno, "cannot read the free space of %s", dir);
		goto out;
	}
	if ((uint64_t)vfs.f_bavail < size / (vfs.f_frsize != 0 ? vfs.f_frsize : 1)) {
		pp_error_set(err, UPLOAD_E_NO_SPACE,
			     "an upload of %llu bytes does not fit: %llu bytes are free in %s",
			     (unsigned long long)size,
			     (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize,
			     dir);
		goto out;
	}
	if (new_id(info.id, err) != 0 ||
	    upload_path(path, sizeof(path), dir, info.id, PART_SUFFIX, err) != 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot create upload %s in %s", info.id, dir);
		goto out;
	}
	made = true;
	info.size = size;
	info.created_at = info.updated_at = (int64_t)time(NULL);
	memcpy(info.sha256, expected, sizeof(expected));
	if (name != NULL)
		memcpy(info.name, name, strlen(name) + 1);
	if (signature_length > 0) {
		struct cab_single l;

		info.cabinet = true;
		info.signature_length = signature_length;
		if (layout_of(&info, &l, err) != 0 || cabupload_write_header(&l, fd, err) != 0)
			goto out;
	}
	if (size == 0) {
		struct running *r = running_new(info.id, err);
		bool kept;
		int done;

		if (r == NULL)
			goto out;
		kept = r->cab != NULL; /* never for a plain upload: complete_upload frees r */
		done = complete_upload(r, fd, &info, &stamp, err);
		if (kept)
			running_free(r);
		if (done != 0)
			goto out;
	}
	if (meta_write(dir, &info, &stamp, err) != 0)
		goto out;
	*out = info;
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	if (rc != 0 && made)
		files_remove(dir, info.id);
	return rc;
}

int upload_create(const char *dir, uint64_t size, const char *sha256_hex, const char *name,
		  struct upload_info *out, struct pp_error *err)
{
	return create(dir, size, sha256_hex, name, 0, out, err);
}

int upload_create_cabinet(const char *dir, uint64_t size, const char *sha256_hex, const char *name,
			  uint32_t signature_length, struct upload_info *out, struct pp_error *err)
{
	struct cab_single l;

	if (name == NULL || !upload_name_valid(name)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a cabinet upload needs a name: the file's name in the cabinet");
		return -1;
	}
	if (size == 0 || signature_length == 0 || signature_length % 8 != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     size == 0
				 ? "a cabinet upload needs at least one byte"
				 : "a cabinet upload needs the signature's length, a multiple "
				   "of 8");
		return -1;
	}
	/* What the cabinet cannot hold is refused before anything is made. */
	if (cab_single_layout(size, name, time(NULL), signature_length, &l, err) != 0)
		return -1;
	return create(dir, size, sha256_hex, name, signature_length, out, err);
}

/* The data file of id open for writing and locked (one writer per upload), and its state read
 * under the lock, so that a removal that came first is seen (the record is gone); -1 on
 * failure, with nothing held. */
static int open_locked(const char *dir, const char *id, struct upload_info *info, off_t *data_len,
		       struct pp_error *err)
{
	int fd = part_open(dir, id, O_RDWR, err);

	if (fd < 0)
		return -1;
	if (lock_file(fd, LOCK_EX) != 0) {
		pp_error_set_errno(err, errno, "cannot lock upload %s", id);
		(void)close(fd);
		return -1;
	}
	if (state_read(dir, id, fd, info, data_len, err) != 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* ---- writing a chunk ----
 *
 * A chunk that is not an upload's last, lent by the caller (upload_append_lent), is answered as
 * soon as it is checked: a thread of its own writes and hashes it and replaces the record,
 * holding the upload's lock, while the client sends the next one, whose append waits for that
 * lock. Until the record is replaced the upload counts the bytes before the chunk, so a crash,
 * or a write that fails (the next append says why), sends the client back to them. The last
 * chunk is written before the answer, which says whether the upload is complete. */

struct chunk_job {
	char dir[PATH_MAX];
	int fd; /* locked */
	struct upload_info info;
	struct running *r;
	uint64_t offset, acked;	 /* where the chunk starts in the file, the data file's length */
	const struct iovec *iov; /* the chunk, in pieces */
	size_t iovcnt, len;
	upload_release_fn release;
	void *release_ctx;
};

static void background_failed(const char *id, const struct pp_error *err)
{
	(void)pthread_mutex_lock(&background_lock);
	memcpy(background_failure[background_failure_next].id, id, UPLOAD_ID_LEN + 1);
	(void)snprintf(background_failure[background_failure_next].message,
		       sizeof(background_failure[0].message), "%s", err->message);
	background_failure_next = (background_failure_next + 1) % DIGEST_CACHE_SIZE;
	(void)pthread_mutex_unlock(&background_lock);
}

/* The failure of id's last background append, taken (one report each); false when none. */
static bool background_failure_take(const char *id, char *message, size_t size)
{
	bool found = false;

	(void)pthread_mutex_lock(&background_lock);
	for (unsigned i = 0; i < DIGEST_CACHE_SIZE && !found; i++)
		if (strcmp(background_failure[i].id, id) == 0) {
			(void)snprintf(message, size, "%s", background_failure[i].message);
			background_failure[i].id[0] = '\0';
			found = true;
		}
	(void)pthread_mutex_unlock(&background_lock);
	return found;
}

/* Writes and hashes the chunk of j, then records it; j->info is updated and j->r spent. The
 * caller then gives the data and the lock back (chunk_finish). */
static int chunk_write(struct chunk_job *j, struct data_stamp *stamp, struct pp_error *err)
{
	struct upload_info *info = &j->info;
	struct running *r = j->r;
	struct chunk_hash hash;
	uint64_t end = j->offset + j->len;
	int rc = -1;

	if (r->cab != NULL) {
		/* In place in the cabinet, hashed for it on threads of its own meanwhile. */
		upload_release_fn release = j->release;

		j->release = NULL; /* the cabinet gives the data back */
		if (cabupload_append_pieces(r->cab, j->fd, j->iov, j->iovcnt, release,
					    j->release_ctx, err) != 0 ||
		    (release == NULL && cabupload_wait(r->cab, err) != 0) ||
		    sync_due(j->fd, info, end) != 0) {
			if (err->code == 0)
				pp_error_set_errno(err, errno, "cannot write upload %s", info->id);
			(void)!ftruncate(j->fd, (off_t)j->acked);
			goto out;
		}
	} else {
		/* The digests run on two threads while this one writes the chunk. */
		chunk_hash_start(&hash, r, j->iov, j->iovcnt, j->len);
		if (write_pieces_at(j->fd, j->iov, j->iovcnt, j->offset) != 0 ||
		    sync_due(j->fd, info, end) != 0) {
			pp_error_set_errno(err, errno, "cannot write upload %s", info->id);
			(void)chunk_hash_wait(&hash);
			(void)!ftruncate(j->fd, (off_t)j->acked);
			goto out;
		}
		if (!chunk_hash_wait(&hash)) {
			pp_error_set_openssl(err, HR_E_FAIL, "hashing upload %s failed", info->id);
			(void)!ftruncate(j->fd, (off_t)j->acked);
			goto out;
		}
	}
	r->offset += j->len;
	info->received = end;
	if (info->received == info->size) {
		bool kept = r->cab != NULL; /* a cabinet's digests live on for the signature */

		rc = complete_upload(r, j->fd, info, stamp, err);
		if (!kept)
			r = NULL; /* spent */
		if (rc != 0) {
			rc = -1;
			if (err->code == UPLOAD_E_DIGEST_MISMATCH)
				files_remove(j->dir, info->id);
			goto out;
		}
	}
	info->updated_at = (int64_t)time(NULL);
	if (meta_write(j->dir, info, stamp, err) != 0)
		goto out;
	if (r != NULL) {
		running_put(r);
		r = NULL;
	}
	rc = 0;
out:
	running_free(r); /* digests of bytes not acknowledged */
	return rc;
}

/* After chunk_write: the data goes back, then the lock, so that the next append finds this one
 * over, a failure included (the caller records it before). */
static void chunk_finish(struct chunk_job *j)
{
	if (j->release != NULL)
		j->release(j->release_ctx);
	(void)close(j->fd); /* and with it the lock */
}

static void *chunk_job_run(void *arg)
{
	struct chunk_job *j = arg;
	struct data_stamp stamp = {0};
	struct pp_error err;

	pp_error_clear(&err);
	if (chunk_write(j, &stamp, &err) != 0)
		background_failed(j->info.id, &err);
	chunk_finish(j);
	free(j);
	(void)pthread_mutex_lock(&background_lock);
	background_count--;
	(void)pthread_cond_broadcast(&background_done);
	(void)pthread_mutex_unlock(&background_lock);
	return NULL;
}

/* Starts j on a detached thread; false (j untouched) when there is none to be had. */
static bool chunk_job_start(struct chunk_job *j)
{
	pthread_attr_t attr;
	pthread_t t;
	bool started;

	if (pthread_attr_init(&attr) != 0)
		return false;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_mutex_lock(&background_lock);
	background_count++;
	(void)pthread_mutex_unlock(&background_lock);
	started = pthread_create(&t, &attr, chunk_job_run, j) == 0;
	(void)pthread_attr_destroy(&attr);
	if (!started) {
		(void)pthread_mutex_lock(&background_lock);
		background_count--;
		(void)pthread_mutex_unlock(&background_lock);
	}
	return started;
}

/* upload_append_lent; *lent tells whether release was passed on (it is called then). */
static int append(const char *dir, const char *id, uint64_t offset, const struct iovec *iov,
		  size_t iovcnt, const char *sha256_hex, upload_release_fn release,
		  void *release_ctx, bool *lent, struct upload_info *out, struct pp_error *err)
{
	char declared[UPLOAD_SHA256_HEX_LEN + 1] = "", failure[PP_ERROR_MESSAGE_MAX];
	struct chunk_job *j = NULL;
	struct data_stamp stamp = {0};
	struct upload_info info;
	struct running *r = NULL;
	off_t data_len;
	uint64_t acked = 0;
	size_t len = 0;
	int fd = -1, rc = -1;

	for (size_t i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;

	if (check_id(id, err) != 0)
		return -1;
	if (sha256_hex != NULL && sha256_normalize(sha256_hex, declared) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "sha256 must be %d hex digits",
			     UPLOAD_SHA256_HEX_LEN);
		return -1;
	}
	fd = open_locked(dir, id, &info, &data_len, err);
	if (fd < 0)
		return -1;
	if (background_failure_take(id, failure, sizeof(failure))) {
		pp_error_set(err, HR_E_FAIL,
			     "upload %s: the chunk before could not be written (%s); send from "
			     "offset %llu",
			     id, failure, (unsigned long long)info.received);
		*out = info;
		goto out;
	}
	if (offset != info.received) {
		pp_error_set(err, UPLOAD_E_OFFSET_MISMATCH,
			     "upload %s has %llu bytes; send from offset %llu", id,
			     (unsigned long long)info.received, (unsigned long long)info.received);
		*out = info;
		goto out;
	}
	if (len > info.size - info.received) {
		pp_error_set(
		    err, UPLOAD_E_TOO_LARGE,
		    "upload %s: %zu bytes at offset %llu go past its declared size of %llu "
		    "bytes",
		    id, len, (unsigned long long)offset, (unsigned long long)info.size);
		goto out;
	}
	if (declared[0] != '\0') {
		if (info.sha256[0] != '\0' && strcmp(info.sha256, declared) != 0) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "upload %s was declared with SHA-256 %s, not %s", id,
				     info.sha256, declared);
			goto out;
		}
		memcpy(info.sha256, declared, sizeof(declared));
	}
	if (len == 0) {
		if (declared[0] != '\0' && !info.complete && meta_write(dir, &info, NULL, err) != 0)
			goto out;
		*out = info;
		rc = 0;
		goto out;
	}
	/* A tail written but never acknowledged (a crash, a failed write) goes first. */
	if (data_length_of(&info, info.received, &acked, err) != 0)
		goto out;
	if ((uint64_t)data_len > acked && ftruncate(fd, (off_t)acked) != 0) {
		pp_error_set_errno(err, errno, "cannot truncate upload %s", id);
		goto out;
	}
	r = running_take(id, info.received);
	if (r == NULL && (r = info.cabinet ? running_cabinet(&info, fd, info.received, err)
					   : running_rebuild(fd, info.received, id, err)) == NULL)
		goto out;
	j = strlen(dir) < sizeof(j->dir) ? calloc(1, sizeof(*j)) : NULL;
	if (j == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing upload %s", id);
		goto out;
	}
	*j = (struct chunk_job){.fd = fd,
				.info = info,
				.r = r,
				.offset = offset,
				.acked = acked,
				.iov = iov,
				.iovcnt = iovcnt,
				.len = len,
				.release = release,
				.release_ctx = release_ctx};
	memcpy(j->dir, dir, strlen(dir) + 1);
	*lent = true;
	/* Not the last chunk, and lent: answered now, written meanwhile. */
	if (release != NULL && offset + len < info.size) {
		info.received = offset + len;
		info.updated_at = (int64_t)time(NULL);
		if (chunk_job_start(j)) {
			*out = info;
			return 0;
		}
	}
	rc = chunk_write(j, &stamp, err);
	chunk_finish(j);
	if (rc == 0)
		*out = j->info;
	free(j);
	return rc;
out:
	free(j);
	running_free(r); /* digests of bytes not acknowledged */
	if (fd >= 0)
		(void)close(fd); /* and with it the lock */
	return rc;
}

int upload_append_lent(const char *dir, const char *id, uint64_t offset, const struct iovec *iov,
		       size_t iovcnt, const char *sha256_hex, upload_release_fn release,
		       void *release_ctx, struct upload_info *out, struct pp_error *err)
{
	bool lent = false;
	int rc =
	    append(dir, id, offset, iov, iovcnt, sha256_hex, release, release_ctx, &lent, out, err);

	if (!lent && release != NULL)
		release(release_ctx);
	return rc;
}

int upload_append(const char *dir, const char *id, uint64_t offset, const void *data, size_t len,
		  const char *sha256_hex, struct upload_info *out, struct pp_error *err)
{
	struct iovec one = {(void *)data, len};

	return upload_append_lent(dir, id, offset, &one, 1, sha256_hex, NULL, NULL, out, err);
}

int upload_get(const char *dir, const char *id, struct upload_info *out, struct pp_error *err)
{
	struct upload_info info;
	off_t data_len;
	int fd, rc;

	if (check_id(id, err) != 0)
		return -1;
	fd = part_open(dir, id, O_RDONLY, err);
	if (fd < 0)
		return -1;
	rc = state_read(dir, id, fd, &info, &data_len, err);
	(void)close(fd);
	if (rc == 0)
		*out = info;
	return rc;
}

int upload_remove(const char *dir, const char *id, struct pp_error *err)
{
	char meta[PATH_MAX], part[PATH_MAX];
	struct pp_error ignored;
	bool had_meta, had_part;
	int fd, rc = -1;

	if (check_id(id, err) != 0 ||
	    upload_path(meta, sizeof(meta), dir, id, META_SUFFIX, err) != 0 ||
	    upload_path(part, sizeof(part), dir, id, PART_SUFFIX, err) != 0)
		return -1;
	/* Wait for a chunk being written, so that its record is not written back after us. */
	pp_error_clear(&ignored);
	fd = part_open(dir, id, O_RDONLY, &ignored);
	if (fd >= 0 && lock_file(fd, LOCK_EX) != 0) {
		pp_error_set_errno(err, errno, "cannot lock upload %s", id);
		goto out;
	}
	/* The record first: a data file alone is not an upload. */
	had_meta = unlink(meta) == 0;
	if (!had_meta && errno != ENOENT) {
		pp_error_set_errno(err, errno, "cannot remove upload %s", id);
		goto out;
	}
	had_part = unlink(part) == 0;
	if (!had_part && errno != ENOENT) {
		pp_error_set_errno(err, errno, "cannot remove the data of upload %s", id);
		goto out;
	}
	if (!had_meta && !had_part) {
		pp_error_set(err, UPLOAD_E_NOT_FOUND, "no upload %s (it may have expired)", id);
		goto out;
	}
	running_drop(id);
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

/* The file of complete cabinet upload info (its cabinet open at fd) copied into an unnamed
 * temporary file of dir, open for reading; -1 on failure. */
static int cabinet_copy_out(const char *dir, const struct upload_info *info, int fd,
			    struct pp_error *err)
{
	struct cab_single l;
	uint8_t *buf = NULL;
	uint64_t off = 0;
	int out = -1;

	if (layout_of(info, &l, err) != 0)
		return -1;
	out = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	buf = malloc(UPLOAD_HASH_BUF);
	if (out < 0 || buf == NULL) {
		pp_error_set_errno(err, out < 0 ? errno : ENOMEM,
				   "cannot make a copy of the file of upload %s", info->id);
		goto fail;
	}
	while (off < info->size) {
		size_t n = info->size - off < UPLOAD_HASH_BUF ? (size_t)(info->size - off)
							      : UPLOAD_HASH_BUF;

		if (cabupload_read(&l, fd, off, buf, n, err) != 0)
			goto fail;
		if (write_all_at(out, buf, n, off) != 0) {
			pp_error_set_errno(err, errno, "cannot copy the file of upload %s",
					   info->id);
			goto fail;
		}
		off += n;
	}
	free(buf);
	/* Read-only for the consumer, as a plain upload's descriptor is. */
	{
		char self[64];
		int ro;

		(void)snprintf(self, sizeof(self), "/proc/self/fd/%d", out);
		ro = open(self, O_RDONLY | O_CLOEXEC);
		if (ro < 0) {
			pp_error_set_errno(err, errno, "cannot reopen the copy of upload %s",
					   info->id);
			(void)close(out);
			return -1;
		}
		(void)close(out);
		return ro;
	}
fail:
	free(buf);
	if (out >= 0)
		(void)close(out);
	return -1;
}

int upload_open_complete(const char *dir, const char *id, int *fd, uint64_t *size,
			 struct pp_error *err)
{
	struct upload_info info;
	off_t data_len;
	int f;

	*fd = -1;
	if (check_id(id, err) != 0)
		return -1;
	f = part_open(dir, id, O_RDONLY, err);
	if (f < 0)
		return -1;
	if (state_read(dir, id, f, &info, &data_len, err) != 0)
		goto fail;
	if (!info.complete) {
		pp_error_set(err, UPLOAD_E_INCOMPLETE,
			     "upload %s is not complete: %llu of %llu bytes received", id,
			     (unsigned long long)info.received, (unsigned long long)info.size);
		goto fail;
	}
	if (info.cabinet) {
		int copy = cabinet_copy_out(dir, &info, f, err);

		(void)close(f);
		if (copy < 0)
			return -1;
		f = copy;
	} else if ((uint64_t)data_len != info.size) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT,
			     "the data of upload %s has %lld bytes, not the %llu it was given", id,
			     (long long)data_len, (unsigned long long)info.size);
		goto fail;
	}
	*fd = f;
	*size = info.size;
	return 0;
fail:
	(void)close(f);
	return -1;
}

/* True when the entry name of dirfd is a regular file last changed more than max_age before
 * now; false also when it is gone. */
static bool entry_old(int dirfd, const char *name, int64_t max_age, int64_t now)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
		return false;
	return now - (int64_t)st.st_mtime > max_age;
}

/* Removes the upload whose record is name, unless a chunk is being written to it or it was
 * touched while we waited. True when it was removed. */
static bool expire_one(int dirfd, const char *name, const char *id, int64_t max_age, int64_t now)
{
	char part[UPLOAD_ID_LEN + sizeof(PART_SUFFIX)];
	bool removed = false;
	int fd;

	(void)snprintf(part, sizeof(part), "%s%s", id, PART_SUFFIX);
	fd = openat(dirfd, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0 && lock_file(fd, LOCK_EX | LOCK_NB) != 0) {
		(void)close(fd);
		return false; /* busy: a chunk is being written, so it is not idle */
	}
	if (entry_old(dirfd, name, max_age, now)) {
		removed = unlinkat(dirfd, name, 0) == 0;
		(void)unlinkat(dirfd, part, 0);
		running_drop(id);
	}
	if (fd >= 0)
		(void)close(fd);
	return removed;
}

int upload_expire(const char *dir, int64_t max_age_seconds, int64_t now, unsigned *removed,
		  struct pp_error *err)
{
	char id[UPLOAD_ID_LEN + 1], meta[UPLOAD_ID_LEN + sizeof(META_SUFFIX)];
	const struct dirent *e;
	unsigned count = 0;
	struct stat st;
	DIR *d;
	int dfd;

	if (removed != NULL)
		*removed = 0;
	d = opendir(dir);
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read the uploads directory %s", dir);
		return -1;
	}
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		switch (entry_kind(e->d_name, id)) {
		case ENTRY_META:
			if (entry_old(dfd, e->d_name, max_age_seconds, now) &&
			    expire_one(dfd, e->d_name, id, max_age_seconds, now))
				count++;
			break;
		case ENTRY_PART:
			/* A data file without a record: a create or a removal cut short. */
			(void)snprintf(meta, sizeof(meta), "%s%s", id, META_SUFFIX);
			if (fstatat(dfd, meta, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
			    entry_old(dfd, e->d_name, max_age_seconds, now) &&
			    unlinkat(dfd, e->d_name, 0) == 0)
				count++;
			break;
		case ENTRY_TEMP:
			if (entry_old(dfd, e->d_name, max_age_seconds, now))
				(void)unlinkat(dfd, e->d_name, 0);
			break;
		case ENTRY_OTHER:
			break;
		}
	}
	(void)closedir(d);
	if (removed != NULL)
		*removed = count;
	return 0;
}

int upload_data_path(const char *dir, const char *id, char *out, size_t size, struct pp_error *err)
{
	return upload_path(out, size, dir, id, PART_SUFFIX, err);
}

/* ---- sealing a cabinet upload ---- */

/* True when path's directory is on the file system of the file open at fd. */
static bool same_file_system(int fd, const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat a, b;
	size_t n = slash == NULL ? 1 : (size_t)(slash - path);

	if (slash == NULL)
		memcpy(parent, ".", 2);
	else if (n == 0 || n >= sizeof(parent))
		return false;
	else {
		memcpy(parent, path, n);
		parent[n] = '\0';
	}
	return fstat(fd, &a) == 0 && stat(parent, &b) == 0 && a.st_dev == b.st_dev;
}

int upload_cabinet_seal(const char *dir, const char *id, upload_sign_fn sign, void *sign_ctx,
			const char *dest_path, struct upload_sealed *out, struct pp_error *err)
{
	char part[PATH_MAX], meta[PATH_MAX];
	uint8_t digest[CABUPLOAD_DIGEST_MAX], *der = NULL;
	struct upload_info info;
	struct running *r = NULL;
	size_t digest_len = 0, der_len = 0;
	off_t data_len;
	int fd = -1, rc = -1;
	bool changed = false;

	if (check_id(id, err) != 0 ||
	    upload_path(part, sizeof(part), dir, id, PART_SUFFIX, err) != 0 ||
	    upload_path(meta, sizeof(meta), dir, id, META_SUFFIX, err) != 0)
		return -1;
	fd = open_locked(dir, id, &info, &data_len, err);
	if (fd < 0)
		return -1;
	if (!info.cabinet || !info.complete) {
		pp_error_set(err, !info.cabinet ? UPLOAD_E_CANNOT_SEAL : UPLOAD_E_INCOMPLETE,
			     !info.cabinet ? "upload %s is not a cabinet upload"
					   : "upload %s is not complete",
			     id);
		goto out;
	}
	if (!same_file_system(fd, dest_path)) {
		pp_error_set(err, UPLOAD_E_CANNOT_SEAL,
			     "upload %s cannot be moved to %s, another file system", id, dest_path);
		goto out;
	}
	/* The digests kept since the last chunk, else read back (a restart). */
	r = running_take(id, info.size);
	if (r == NULL || r->cab == NULL) {
		uint8_t d1[20], d256[32];

		running_free(r);
		r = running_cabinet(&info, fd, info.size, err);
		if (r == NULL || cabupload_complete(r->cab, d1, d256, err) != 0)
			goto out;
	}
	if (cabupload_authenticode(r->cab, digest, &digest_len) != 0) {
		pp_error_set(err, HR_E_UNEXPECTED, "upload %s has no cabinet digest", id);
		goto out;
	}
	if (sign(sign_ctx, digest, digest_len, &der, &der_len, err) != 0)
		goto out;
	if (((der_len + 7u) & ~(size_t)7u) != info.signature_length) {
		pp_error_set(err, UPLOAD_E_CANNOT_SEAL,
			     "the signature is %zu bytes; upload %s made room for %u", der_len, id,
			     info.signature_length);
		goto out;
	}
	changed = true;
	if (cabupload_seal(r->cab, fd, der, der_len, out->sha1, out->sha256, &out->size, err) !=
		0 ||
	    fdatasync(fd) != 0 || rename(part, dest_path) != 0) {
		if (err->code == 0)
			pp_error_set_errno(err, errno, "cannot move upload %s to %s", id,
					   dest_path);
		goto out;
	}
	/* The cabinet is elsewhere now: the record goes, and the upload with it. */
	(void)unlink(meta);
	running_free(r);
	r = NULL;
	rc = 0;
out:
	if (r != NULL && !changed)
		running_put(r);
	else
		running_free(r);
	/* A cabinet half sealed is of no use: it goes, and the file is sent again. */
	if (rc != 0 && changed)
		files_remove(dir, id);
	free(der);
	(void)close(fd);
	return rc;
}
