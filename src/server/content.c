/* content.c - the content-addressed store of update cabinets (see content.h and
 * docs/internals/content.md).
 *
 * Every file is reached through descriptors: the store's directory, then XX opened O_NOFOLLOW,
 * then the file opened O_NOFOLLOW, so no symbolic link planted in the store leads outside it.
 * The table of verifications is an open-addressing hash table (linear probing, backward-shift
 * deletion) keyed by the binary SHA-1, whose bytes are already uniform: the first eight are the
 * hash. */
#include "content.h"

#include "hashworker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define INCOMING_DIR	  ".incoming"
#define INCOMING_RND	  16 /* random bytes of an incoming name */
#define INCOMING_NAME_LEN (2 * INCOMING_RND + 4)
#define INCOMING_SUFFIX	  ".tmp"
#define CONTENT_SUFFIX	  ".cab"
#define CONTENT_NAME_LEN  (CONTENT_SHA1_HEX_LEN + 4) /* "<40 hex>.cab" */
#define HASH_BUF	  (1u << 20)		     /* read size while hashing */
#define SHA1_LEN	  20
#define SHA256_LEN	  32
#define TABLE_MIN	  256u
#define TABLE_MAX	  131072u /* slots; CONTENT_REMEMBER_MAX is 3/4 of it */

/* What identifies one state of a file: any write changes ctime, and so does futimens. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

enum slot_state { SLOT_EMPTY = 0, SLOT_GOOD, SLOT_DAMAGED };

struct slot {
	unsigned char key[SHA1_LEN];	/* the name, in binary */
	unsigned char state;		/* enum slot_state */
	unsigned char actual[SHA1_LEN]; /* SLOT_DAMAGED: the digest the file had */
	struct file_id id;		/* the file as it was verified */
};

struct content_store {
	char *dir;
	char *incoming; /* dir/.incoming */
	int dirfd, incfd;
	unsigned settle;
	pthread_mutex_t lock; /* guards slots, cap, used, hashed */
	struct slot *slots;
	size_t cap, used;
	uint64_t hashed;
};

static const char upper_hex[] = "0123456789ABCDEF";
static const char lower_hex[] = "0123456789abcdef";

/* ---- names ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int content_sha1_normalize(const char *hex, char out[CONTENT_SHA1_HEX_LEN + 1])
{
	size_t i;

	if (hex == NULL || strnlen(hex, CONTENT_SHA1_HEX_LEN + 1) != CONTENT_SHA1_HEX_LEN)
		return -1;
	for (i = 0; i < CONTENT_SHA1_HEX_LEN; i++) {
		int v = hexval(hex[i]);

		if (v < 0)
			return -1;
		out[i] = upper_hex[v];
	}
	out[CONTENT_SHA1_HEX_LEN] = '\0';
	return 0;
}

static void hex_encode(const unsigned char *bin, size_t n, const char *digits, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * n] = '\0';
}

/* 40 upper-case hex digits (already checked) to 20 bytes. */
static void sha1_decode(const char *hex, unsigned char bin[SHA1_LEN])
{
	size_t i;

	for (i = 0; i < SHA1_LEN; i++)
		bin[i] = (unsigned char)(((unsigned)hexval(hex[2 * i]) & 15u) << 4 |
					 ((unsigned)hexval(hex[2 * i + 1]) & 15u));
}

/* The checked, upper-case digest first, so that no file name is built from anything else. */
static int check_sha1(const char *hex, char out[CONTENT_SHA1_HEX_LEN + 1], struct pp_error *err)
{
	if (content_sha1_normalize(hex, out) == 0)
		return 0;
	pp_error_set(err, CONTENT_E_BAD_NAME,
		     "content name '%.48s%s' is not a SHA-1 of %d hex digits",
		     hex != NULL ? hex : "", hex != NULL && strlen(hex) > 48 ? "..." : "",
		     CONTENT_SHA1_HEX_LEN);
	return -1;
}

/* "XX" (the last two digits) and "<SHA1>.cab" of a checked digest. */
static void content_names(const char *sha1, char xx[3], char name[CONTENT_NAME_LEN + 1])
{
	xx[0] = sha1[CONTENT_SHA1_HEX_LEN - 2];
	xx[1] = sha1[CONTENT_SHA1_HEX_LEN - 1];
	xx[2] = '\0';
	memcpy(name, sha1, CONTENT_SHA1_HEX_LEN);
	memcpy(name + CONTENT_SHA1_HEX_LEN, CONTENT_SUFFIX, sizeof(CONTENT_SUFFIX));
}

static bool is_upper_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* True for "<40 upper-case hex>.cab" whose last two digits are xx: the store's own names. */
static bool is_content_name(const char *name, const char *xx)
{
	size_t i;

	if (strnlen(name, CONTENT_NAME_LEN + 1) != CONTENT_NAME_LEN ||
	    strcmp(name + CONTENT_SHA1_HEX_LEN, CONTENT_SUFFIX) != 0)
		return false;
	for (i = 0; i < CONTENT_SHA1_HEX_LEN; i++)
		if (!is_upper_hex(name[i]))
			return false;
	return name[CONTENT_SHA1_HEX_LEN - 2] == xx[0] && name[CONTENT_SHA1_HEX_LEN - 1] == xx[1];
}

/* True for two upper-case hex digits. */
static bool is_xx_name(const char *name)
{
	return is_upper_hex(name[0]) && is_upper_hex(name[1]) && name[2] == '\0';
}

/* True for "<32 lower-case hex>.tmp". */
static bool is_incoming_name(const char *name)
{
	size_t i;

	if (strnlen(name, INCOMING_NAME_LEN + 1) != INCOMING_NAME_LEN ||
	    strcmp(name + 2 * INCOMING_RND, INCOMING_SUFFIX) != 0)
		return false;
	for (i = 0; i < 2 * INCOMING_RND; i++)
		if (!is_lower_hex(name[i]))
			return false;
	return true;
}

/* ---- the table of verifications (callers hold cs->lock) ---- */

static size_t slot_home(const unsigned char *key, size_t cap)
{
	uint64_t h = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		h = h << 8 | key[i];
	return (size_t)(h & (cap - 1));
}

static struct slot *table_find(struct content_store *cs, const unsigned char *key)
{
	size_t i = slot_home(key, cs->cap);

	while (cs->slots[i].state != SLOT_EMPTY) {
		if (memcmp(cs->slots[i].key, key, SHA1_LEN) == 0)
			return &cs->slots[i];
		i = (i + 1) & (cs->cap - 1);
	}
	return NULL;
}

static void table_remove(struct content_store *cs, const unsigned char *key)
{
	struct slot *s = table_find(cs, key);
	size_t hole, i;

	if (s == NULL)
		return;
	hole = (size_t)(s - cs->slots);
	memset(s, 0, sizeof(*s));
	cs->used--;
	/* Backward shift: move up every later entry of the run whose home is not between the hole
	 * and itself, so that lookups never stop at the hole. */
	for (i = (hole + 1) & (cs->cap - 1); cs->slots[i].state != SLOT_EMPTY;
	     i = (i + 1) & (cs->cap - 1)) {
		size_t home = slot_home(cs->slots[i].key, cs->cap);
		bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);

		if (stays)
			continue;
		cs->slots[hole] = cs->slots[i];
		memset(&cs->slots[i], 0, sizeof(cs->slots[i]));
		hole = i;
	}
}

/* Doubles the table (up to TABLE_MAX); -1 when it cannot grow, which only costs re-hashing. */
static int table_grow(struct content_store *cs)
{
	size_t cap = cs->cap * 2, i, j;
	struct slot *slots;

	if (cap > TABLE_MAX)
		return -1;
	slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (i = 0; i < cs->cap; i++) {
		if (cs->slots[i].state == SLOT_EMPTY)
			continue;
		for (j = slot_home(cs->slots[i].key, cap); slots[j].state != SLOT_EMPTY;
		     j = (j + 1) & (cap - 1))
			;
		slots[j] = cs->slots[i];
	}
	free(cs->slots);
	cs->slots = slots;
	cs->cap = cap;
	return 0;
}

/* Records the verdict on key; a full table simply forgets it. */
static void table_put(struct content_store *cs, const unsigned char *key, enum slot_state state,
		      const unsigned char *actual, const struct file_id *id)
{
	struct slot *s = table_find(cs, key);
	size_t i;

	if (s == NULL) {
		if ((cs->used + 1) * 4 > cs->cap * 3 &&
		    (cs->used >= CONTENT_REMEMBER_MAX || table_grow(cs) != 0))
			return;
		for (i = slot_home(key, cs->cap); cs->slots[i].state != SLOT_EMPTY;
		     i = (i + 1) & (cs->cap - 1))
			;
		s = &cs->slots[i];
		memcpy(s->key, key, SHA1_LEN);
		cs->used++;
	}
	s->state = (unsigned char)state;
	if (actual != NULL)
		memcpy(s->actual, actual, SHA1_LEN);
	else
		memset(s->actual, 0, SHA1_LEN);
	s->id = *id;
}

/* ---- files ---- */

static void file_id_of(const struct stat *st, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtim = st->st_mtim;
	id->ctim = st->st_ctim;
}

static bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/* True when ctime is settle seconds older than now (both as the kernel's coarse clock sees
 * them): only then can no later change share its ctime. */
static bool file_id_settled(const struct file_id *id, const struct timespec *now, unsigned settle)
{
	time_t limit = now->tv_sec - (time_t)settle;

	return id->ctim.tv_sec < limit ||
	       (id->ctim.tv_sec == limit && id->ctim.tv_nsec < now->tv_nsec);
}

int content_hash_fd(int fd, unsigned char sha1[20], unsigned char *sha256, uint64_t *size,
		    const char *what, struct pp_error *err)
{
	EVP_MD_CTX *md1 = EVP_MD_CTX_new();
	struct hashworker *w256 = NULL;
	unsigned char *buf = malloc(HASH_BUF);
	uint64_t off = 0;
	unsigned len1 = 0, len256 = 0;
	int rc = -1;

	if (md1 == NULL || buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory while hashing %s", what);
		goto out;
	}
	if (EVP_DigestInit_ex(md1, EVP_sha1(), NULL) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot start the digests of %s", what);
		goto out;
	}
	/* SHA-256 on the hash worker's thread while this one computes SHA-1: two cores. */
	if (sha256 != NULL && (w256 = hashworker_new(EVP_sha256(), err)) == NULL)
		goto out;
	for (;;) {
		ssize_t n = pread(fd, buf, HASH_BUF, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read %s", what);
			goto out;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > CONTENT_SIZE_MAX - off) {
			pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "%s is larger than %llu bytes",
				     what, (unsigned long long)CONTENT_SIZE_MAX);
			goto out;
		}
		if (w256 != NULL && hashworker_update(w256, buf, (size_t)n, err) != 0)
			goto out;
		if (EVP_DigestUpdate(md1, buf, (size_t)n) != 1) {
			pp_error_set_openssl(err, HR_E_FAIL, "cannot hash %s", what);
			goto out;
		}
		off += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(md1, sha1, &len1) != 1 || len1 != SHA1_LEN) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot hash %s", what);
		goto out;
	}
	if (w256 != NULL &&
	    (hashworker_final(w256, sha256, &len256, err) != 0 || len256 != SHA256_LEN)) {
		pp_error_set(err, HR_E_FAIL, "cannot hash %s", what);
		goto out;
	}
	*size = off;
	rc = 0;
out:
	EVP_MD_CTX_free(md1);
	hashworker_free(w256);
	free(buf);
	return rc;
}

static int open_xx(const struct content_store *cs, const char *xx)
{
	return openat(cs->dirfd, xx, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int fsync_fd(int fd, const char *what, struct pp_error *err)
{
	if (fsync(fd) != 0) {
		pp_error_set_errno(err, errno, "cannot fsync %s", what);
		return -1;
	}
	return 0;
}

/* Opens content sha1 (checked, upper case) read-only; NOT_FOUND for anything that is not a
 * regular file there. *st gets its state. */
static int open_content(const struct content_store *cs, const char *sha1, struct stat *st,
			struct pp_error *err)
{
	char xx[3], name[CONTENT_NAME_LEN + 1];
	int xfd, fd, e;

	content_names(sha1, xx, name);
	xfd = open_xx(cs, xx);
	if (xfd < 0) {
		e = errno;
		goto fail;
	}
	fd = openat(xfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	e = errno;
	(void)close(xfd);
	if (fd < 0)
		goto fail;
	if (fstat(fd, st) != 0) {
		e = errno;
		(void)close(fd);
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		e = ENOENT;
		(void)close(fd);
		goto fail;
	}
	return fd;
fail:
	if (e == ENOENT || e == ELOOP || e == ENOTDIR || e == ENXIO)
		pp_error_set(err, CONTENT_E_NOT_FOUND, "no content %s in %s", sha1, cs->dir);
	else
		pp_error_set_errno(err, e, "cannot open content %s/%s/%s", cs->dir, xx, name);
	return -1;
}

static void damaged_error(const struct content_store *cs, const char *sha1,
			  const unsigned char *actual, struct pp_error *err)
{
	char hex[CONTENT_SHA1_HEX_LEN + 1];

	hex_encode(actual, SHA1_LEN, upper_hex, hex);
	pp_error_set(err, CONTENT_E_DAMAGED,
		     "content %s/%c%c/%s.cab is damaged: its SHA-1 is %s, its name says %s; it is "
		     "refused until it is replaced",
		     cs->dir, sha1[CONTENT_SHA1_HEX_LEN - 2], sha1[CONTENT_SHA1_HEX_LEN - 1], sha1,
		     hex, sha1);
}

/* Opens content sha1 (checked, upper case) after verifying it, or finding it verified in the
 * table in the same state. */
static int verify_content(struct content_store *cs, const char *sha1, int *fd_out,
			  uint64_t *size_out, struct pp_error *err)
{
	unsigned char key[SHA1_LEN], actual[SHA1_LEN];
	struct file_id before, after;
	struct timespec now;
	struct stat st;
	struct slot *s;
	uint64_t size = 0;
	char what[96];
	bool settled, good;
	int fd;

	sha1_decode(sha1, key);
	/* The time first: a change after it gets a ctime at least this late. */
	if (clock_gettime(CLOCK_REALTIME_COARSE, &now) != 0)
		memset(&now, 0, sizeof(now));
	fd = open_content(cs, sha1, &st, err);
	if (fd < 0)
		return -1;
	file_id_of(&st, &before);
	if ((uint64_t)st.st_size > CONTENT_SIZE_MAX) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "content %s is larger than %llu bytes",
			     sha1, (unsigned long long)CONTENT_SIZE_MAX);
		goto fail;
	}
	(void)pthread_mutex_lock(&cs->lock);
	s = table_find(cs, key);
	if (s != NULL && file_id_equal(&s->id, &before)) {
		good = s->state == SLOT_GOOD;
		memcpy(actual, s->actual, SHA1_LEN);
		(void)pthread_mutex_unlock(&cs->lock);
		if (!good) {
			damaged_error(cs, sha1, actual, err);
			goto fail;
		}
		*fd_out = fd;
		*size_out = (uint64_t)st.st_size;
		return 0;
	}
	(void)pthread_mutex_unlock(&cs->lock);

	/* Hashed outside the lock: a large file must not hold up every other download. */
	(void)snprintf(what, sizeof(what), "content %s", sha1);
	if (content_hash_fd(fd, actual, NULL, &size, what, err) != 0)
		goto fail;
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot stat content %s", sha1);
		goto fail;
	}
	file_id_of(&st, &after);
	good = memcmp(actual, key, SHA1_LEN) == 0;
	settled = file_id_equal(&before, &after) && file_id_settled(&before, &now, cs->settle);
	(void)pthread_mutex_lock(&cs->lock);
	cs->hashed++;
	if (!good)
		table_put(cs, key, SLOT_DAMAGED, actual, &before);
	else if (settled)
		table_put(cs, key, SLOT_GOOD, NULL, &before);
	else
		table_remove(cs, key);
	(void)pthread_mutex_unlock(&cs->lock);
	if (!good) {
		damaged_error(cs, sha1, actual, err);
		goto fail;
	}
	*fd_out = fd;
	*size_out = (uint64_t)after.size;
	return 0;
fail:
	(void)close(fd);
	return -1;
}

/* ---- the store ---- */

/* mkdirat with exactly mode when it makes the directory; *made tells whether it did. */
static int make_dir_at(int dirfd, const char *name, mode_t mode, bool *made)
{
	*made = false;
	if (mkdirat(dirfd, name, mode) == 0) {
		*made = true;
		return fchmodat(dirfd, name, mode, 0);
	}
	return errno == EEXIST ? 0 : -1;
}

/* Removes every entry of .incoming that is not a directory; *count gets how many. */
static int clear_incoming(struct content_store *cs, unsigned *count, struct pp_error *err)
{
	int fd = openat(cs->incfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	*count = 0;
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read %s", cs->incoming);
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(cs->incfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (unlinkat(cs->incfd, e->d_name, 0) == 0)
			(*count)++;
	}
	(void)closedir(d);
	return 0;
}

struct content_store *content_store_open(const char *dir, unsigned *leftovers, struct pp_error *err)
{
	struct content_store *cs = NULL;
	unsigned removed = 0;
	size_t n;
	bool made;

	if (leftovers != NULL)
		*leftovers = 0;
	if (dir == NULL || dir[0] == '\0' || (n = strlen(dir)) >= PATH_MAX - 64) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the content directory path is empty or too long");
		return NULL;
	}
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL || pthread_mutex_init(&cs->lock, NULL) != 0) {
		free(cs);
		pp_error_set(err, HR_E_OUTOFMEMORY,
			     "out of memory while opening the content store");
		return NULL;
	}
	/* From here content_store_free undoes whatever was done. */
	cs->dirfd = cs->incfd = -1;
	cs->settle = CONTENT_SETTLE_SECONDS;
	cs->dir = strdup(dir);
	cs->incoming = malloc(n + sizeof("/" INCOMING_DIR));
	cs->cap = TABLE_MIN;
	cs->slots = calloc(cs->cap, sizeof(*cs->slots));
	if (cs->dir == NULL || cs->incoming == NULL || cs->slots == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY,
			     "out of memory while opening the content store");
		goto fail;
	}
	memcpy(cs->incoming, dir, n);
	memcpy(cs->incoming + n, "/" INCOMING_DIR, sizeof("/" INCOMING_DIR));
	if (mkdir(dir, 0755) == 0) {
		if (chmod(dir, 0755) != 0) {
			pp_error_set_errno(err, errno, "cannot set the mode of %s", dir);
			goto fail;
		}
	} else if (errno != EEXIST) {
		pp_error_set_errno(err, errno, "cannot create the content directory %s", dir);
		goto fail;
	}
	cs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs->dirfd < 0) {
		pp_error_set_errno(err, errno, "cannot open the content directory %s", dir);
		goto fail;
	}
	/* .incoming holds files not yet checked: private, whatever its mode was. */
	if (make_dir_at(cs->dirfd, INCOMING_DIR, 0700, &made) != 0 ||
	    (cs->incfd = openat(cs->dirfd, INCOMING_DIR,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fchmod(cs->incfd, 0700) != 0) {
		pp_error_set_errno(err, errno, "cannot create %s", cs->incoming);
		goto fail;
	}
	if (clear_incoming(cs, &removed, err) != 0)
		goto fail;
	if (leftovers != NULL)
		*leftovers = removed;
	return cs;
fail:
	content_store_free(cs);
	return NULL;
}

void content_store_set_settle_seconds(struct content_store *cs, unsigned seconds)
{
	cs->settle = seconds;
}

int content_store_incoming_path(struct content_store *cs, char *out, size_t size,
				struct pp_error *err)
{
	unsigned char rnd[INCOMING_RND];
	char name[INCOMING_NAME_LEN + 1];
	ssize_t got;
	int n;

	do
		got = getrandom(rnd, sizeof(rnd), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(rnd)) {
		pp_error_set_errno(err, got < 0 ? errno : EIO,
				   "no random bytes for an incoming name");
		return -1;
	}
	hex_encode(rnd, sizeof(rnd), lower_hex, name);
	memcpy(name + 2 * INCOMING_RND, INCOMING_SUFFIX, sizeof(INCOMING_SUFFIX));
	n = snprintf(out, size, "%s/%s", cs->incoming, name);
	if (n < 0 || (size_t)n >= size) {
		pp_error_set(err, HR_E_INVALIDARG, "a path in %s does not fit in %zu bytes",
			     cs->incoming, size);
		return -1;
	}
	return 0;
}

/* The name within .incoming of path, NULL unless path is cs->incoming + "/" + an incoming name. */
static const char *incoming_name(const struct content_store *cs, const char *path)
{
	size_t n = strlen(cs->incoming);

	if (path == NULL || strncmp(path, cs->incoming, n) != 0 || path[n] != '/' ||
	    !is_incoming_name(path + n + 1))
		return NULL;
	return path + n + 1;
}

static void fill_info(const char *sha1, const unsigned char *sha256, uint64_t size,
		      struct content_info *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->sha1, sha1, CONTENT_SHA1_HEX_LEN + 1);
	hex_encode(sha256, SHA256_LEN, lower_hex, out->sha256);
	out->size = size;
	(void)snprintf(out->url_path, sizeof(out->url_path), "/Content/%c%c/%s.cab",
		       sha1[CONTENT_SHA1_HEX_LEN - 2], sha1[CONTENT_SHA1_HEX_LEN - 1], sha1);
}

/* content_store_commit and content_store_commit_hashed: known holds the digests and size the
 * writer computed, or is NULL (the file is hashed here). */
static int commit(struct content_store *cs, const char *incoming_path,
		  const struct content_digests *known, struct content_info *out,
		  struct pp_error *err)
{
	const char *inc = incoming_name(cs, incoming_path);
	unsigned char sha1[SHA1_LEN], sha256[SHA256_LEN];
	char hex[CONTENT_SHA1_HEX_LEN + 1], xx[3], name[CONTENT_NAME_LEN + 1];
	struct pp_error existing;
	struct stat st;
	uint64_t size = 0, vsize;
	int fd = -1, xfd = -1, vfd = -1, rc = -1;
	bool made = false;

	if (inc == NULL) {
		pp_error_set(err, CONTENT_E_BAD_NAME,
			     "%s is not a path from content_store_incoming_path",
			     incoming_path != NULL ? incoming_path : "(null)");
		goto out;
	}
	fd = openat(cs->incfd, inc, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open %s", incoming_path);
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is not a regular file", incoming_path);
		goto out;
	}
	if (known != NULL) {
		memcpy(sha1, known->sha1, SHA1_LEN);
		memcpy(sha256, known->sha256, SHA256_LEN);
		size = known->size;
	} else if (content_hash_fd(fd, sha1, sha256, &size, incoming_path, err) != 0) {
		goto out;
	}
	/* A writer still at work would make the name a lie. */
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s changed while it was being committed; finish writing it first",
			     incoming_path);
		goto out;
	}
	if (fsync_fd(fd, incoming_path, err) != 0)
		goto out;
	if (fchmod(fd, 0444) != 0) {
		pp_error_set_errno(err, errno, "cannot set the mode of %s", incoming_path);
		goto out;
	}
	hex_encode(sha1, SHA1_LEN, upper_hex, hex);
	content_names(hex, xx, name);
	if (make_dir_at(cs->dirfd, xx, 0755, &made) != 0 || (xfd = open_xx(cs, xx)) < 0) {
		pp_error_set_errno(err, errno, "cannot create %s/%s", cs->dir, xx);
		goto out;
	}
	/* Already there: keep it when it verifies, replace it when it is damaged. */
	pp_error_clear(&existing);
	if (fstatat(xfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    verify_content(cs, hex, &vfd, &vsize, &existing) == 0) {
		(void)close(vfd);
		if (unlinkat(cs->incfd, inc, 0) != 0) {
			pp_error_set_errno(err, errno, "cannot remove %s", incoming_path);
			goto out;
		}
		if (fsync_fd(cs->incfd, cs->incoming, err) != 0)
			goto out;
		fill_info(hex, sha256, size, out);
		rc = 0;
		goto out;
	}
	if (renameat(cs->incfd, inc, xfd, name) != 0) {
		pp_error_set_errno(err, errno, "cannot move %s to %s/%s/%s", incoming_path, cs->dir,
				   xx, name);
		goto out;
	}
	(void)pthread_mutex_lock(&cs->lock);
	table_remove(cs, sha1);
	(void)pthread_mutex_unlock(&cs->lock);
	if (fsync_fd(xfd, xx, err) != 0 || fsync_fd(cs->incfd, cs->incoming, err) != 0 ||
	    (made && fsync_fd(cs->dirfd, cs->dir, err) != 0))
		goto out;
	fill_info(hex, sha256, size, out);
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	if (xfd >= 0)
		(void)close(xfd);
	return rc;
}

int content_store_commit(struct content_store *cs, const char *incoming_path,
			 struct content_info *out, struct pp_error *err)
{
	return commit(cs, incoming_path, NULL, out, err);
}

int content_store_commit_hashed(struct content_store *cs, const char *incoming_path,
				const struct content_digests *known, struct content_info *out,
				struct pp_error *err)
{
	return commit(cs, incoming_path, known, out, err);
}

int content_store_open_verified(struct content_store *cs, const char *sha1_hex, int *fd,
				uint64_t *size, struct pp_error *err)
{
	char sha1[CONTENT_SHA1_HEX_LEN + 1];

	*fd = -1;
	*size = 0;
	if (check_sha1(sha1_hex, sha1, err) != 0)
		return -1;
	return verify_content(cs, sha1, fd, size, err);
}

/* Verifies every content file of directory xx; -1 only when it cannot be read. */
/* Calls fn for the name (upper-case SHA-1) of every file in the XX directories; -1 when a
 * directory cannot be read or fn fails. */
typedef int (*walk_fn)(struct content_store *cs, const char *sha1, void *ctx);

static int walk_dir(struct content_store *cs, const char *xx, walk_fn fn, void *ctx,
		    struct pp_error *err)
{
	int fd = open_xx(cs, xx), rc = 0;
	struct dirent *e;
	DIR *d;

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read %s/%s", cs->dir, xx);
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char sha1[CONTENT_SHA1_HEX_LEN + 1];

		if (!is_content_name(e->d_name, xx))
			continue;
		memcpy(sha1, e->d_name, CONTENT_SHA1_HEX_LEN);
		sha1[CONTENT_SHA1_HEX_LEN] = '\0';
		rc = fn(cs, sha1, ctx);
	}
	(void)closedir(d);
	return rc;
}

static int walk(struct content_store *cs, walk_fn fn, void *ctx, struct pp_error *err)
{
	int fd = openat(cs->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
	struct dirent *e;
	DIR *d;

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read the content directory %s", cs->dir);
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;

		if (!is_xx_name(e->d_name) ||
		    fstatat(cs->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		rc = walk_dir(cs, e->d_name, fn, ctx, err);
	}
	(void)closedir(d);
	return rc;
}

struct scrub_ctx {
	content_scrub_report report;
	void *ctx;
	unsigned checked, bad;
};

static int scrub_one(struct content_store *cs, const char *sha1, void *arg)
{
	struct scrub_ctx *c = arg;
	struct pp_error why;
	uint64_t size;
	int cfd;

	pp_error_clear(&why);
	if (verify_content(cs, sha1, &cfd, &size, &why) == 0) {
		(void)close(cfd);
		c->checked++;
		return 0;
	}
	/* Removed while we were looking: nothing to check. */
	if (why.code == CONTENT_E_NOT_FOUND && !content_store_exists(cs, sha1))
		return 0;
	c->checked++;
	c->bad++;
	if (c->report != NULL)
		c->report(c->ctx, sha1, &why);
	return 0;
}

int content_store_scrub(struct content_store *cs, content_scrub_report report, void *ctx,
			unsigned *checked, unsigned *bad, struct pp_error *err)
{
	struct scrub_ctx c = {report, ctx, 0, 0};
	int rc = walk(cs, scrub_one, &c, err);

	if (checked != NULL)
		*checked = c.checked;
	if (bad != NULL)
		*bad = c.bad;
	return rc;
}

struct list_ctx {
	char (*names)[CONTENT_SHA1_HEX_LEN + 1];
	size_t count, cap;
	struct pp_error *err;
};

static int list_one(struct content_store *cs, const char *sha1, void *arg)
{
	struct list_ctx *c = arg;

	(void)cs;
	if (c->count == c->cap) {
		size_t cap = c->cap == 0 ? 64 : c->cap * 2;
		void *n = cap <= CONTENT_REMEMBER_MAX * 4u
			      ? realloc(c->names, cap * sizeof(*c->names))
			      : NULL;

		if (n == NULL) {
			pp_error_set(c->err, HR_E_OUTOFMEMORY, "too many content files to list");
			return -1;
		}
		c->names = n;
		c->cap = cap;
	}
	memcpy(c->names[c->count++], sha1, CONTENT_SHA1_HEX_LEN + 1);
	return 0;
}

int content_store_list(struct content_store *cs, char (**names)[CONTENT_SHA1_HEX_LEN + 1],
		       size_t *count, struct pp_error *err)
{
	struct list_ctx c = {NULL, 0, 0, err};

	*names = NULL;
	*count = 0;
	if (walk(cs, list_one, &c, err) != 0) {
		free(c.names);
		return -1;
	}
	*names = c.names;
	*count = c.count;
	return 0;
}

bool content_store_exists(struct content_store *cs, const char *sha1_hex)
{
	char sha1[CONTENT_SHA1_HEX_LEN + 1], xx[3], name[CONTENT_NAME_LEN + 1];
	struct stat st;
	bool found;
	int xfd;

	if (content_sha1_normalize(sha1_hex, sha1) != 0)
		return false;
	content_names(sha1, xx, name);
	xfd = open_xx(cs, xx);
	if (xfd < 0)
		return false;
	found = fstatat(xfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	(void)close(xfd);
	return found;
}

int content_store_remove(struct content_store *cs, const char *sha1_hex, struct pp_error *err)
{
	char sha1[CONTENT_SHA1_HEX_LEN + 1], xx[3], name[CONTENT_NAME_LEN + 1];
	unsigned char key[SHA1_LEN];
	int xfd, rc = -1;

	if (check_sha1(sha1_hex, sha1, err) != 0)
		return -1;
	content_names(sha1, xx, name);
	sha1_decode(sha1, key);
	xfd = open_xx(cs, xx);
	if (xfd < 0 || unlinkat(xfd, name, 0) != 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			pp_error_set(err, CONTENT_E_NOT_FOUND, "no content %s in %s", sha1,
				     cs->dir);
		else
			pp_error_set_errno(err, errno, "cannot remove content %s/%s/%s", cs->dir,
					   xx, name);
		goto out;
	}
	(void)pthread_mutex_lock(&cs->lock);
	table_remove(cs, key);
	(void)pthread_mutex_unlock(&cs->lock);
	if (fsync_fd(xfd, xx, err) != 0)
		goto out;
	rc = 0;
out:
	if (xfd >= 0)
		(void)close(xfd);
	return rc;
}

uint64_t content_store_hash_count(struct content_store *cs)
{
	uint64_t n;

	(void)pthread_mutex_lock(&cs->lock);
	n = cs->hashed;
	(void)pthread_mutex_unlock(&cs->lock);
	return n;
}

const char *content_store_dir(const struct content_store *cs)
{
	return cs->dir;
}

void content_store_free(struct content_store *cs)
{
	if (cs == NULL)
		return;
	if (cs->incfd >= 0)
		(void)close(cs->incfd);
	if (cs->dirfd >= 0)
		(void)close(cs->dirfd);
	(void)pthread_mutex_destroy(&cs->lock);
	free(cs->slots);
	free(cs->incoming);
	free(cs->dir);
	free(cs);
}
